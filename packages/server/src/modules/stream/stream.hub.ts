import { randomUUID } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { type ClientFrame, ClientFrameSchema, type QueueItem, type ServerFrame } from '@enclave/protocol';
import { AppError } from '../../platform/http/app-error.js';
import type { Bus } from '../../platform/bus/bus.js';
import type { DevicePrincipal } from '../../platform/http/route.js';
import type { CommandService } from '../devices/index.js';
import type { MessagingService } from '../messaging/index.js';

export const HEARTBEAT_MS = 25_000;
/**
 * A connection whose unsent bytes exceed this is cut off; it resumes from its queue later. Above
 * the pump's low-water mark there is at most one delivery (≤ ~1.4 MB of JSON), so this leaves room.
 */
export const MAX_BUFFERED_BYTES = 2 * 1024 * 1024;
/** The pump sends the next delivery only once the socket's send buffer is below this (backpressure). */
const LOW_WATER_BYTES = 64 * 1024;
/** A connection whose send buffer makes no progress for this long is cut off as a slow consumer. */
export const SLOW_CONSUMER_MS = 10_000;
const BATCH = 100;
/** Connections whose queues one wake-up query reads (see StreamHub.flushWakes). */
const WAKE_BATCH = 100;
/** Rows one wake-up query reads; an answer this long is incomplete and each connection pumps instead. */
const WAKE_LIMIT = 1000;
/** `send` frames one connection may have waiting to be stored; more are refused (rate_limited). */
const MAX_QUEUED_SENDS = 1000;
/** Each process announces its connected devices this often; an announcement not repeated expires. */
export const PRESENCE_INTERVAL_MS = 5_000;
/** Connections caught up at a time after the bus reconnects (each costs a queue and a command query). */
const CATCH_UP_CONCURRENCY = 16;

/** WebSocket close codes of our own (RFC 6455 §7.4.2: 4000–4999 are private use). */
export const CLOSE = {
  unauthenticated: 4001,
  revoked: 4003,
  slowConsumer: 4008,
  shutdown: 1001,
  /** RFC 6455 "try again later": the database is unreachable; the device reconnects with backoff. */
  unavailable: 1013,
} as const;

export interface StreamHubOptions {
  /** Which of these devices are no longer active: after the bus reconnects, their streams are closed. */
  inactiveAmong?: (deviceIds: string[]) => Promise<string[]>;
  /** How often this process announces its count (default {@link PRESENCE_INTERVAL_MS}; tests shorten it). */
  presenceIntervalMs?: number;
}

class Connection {
  private lastSent = 0;
  private pumping = false;
  private again = false;
  alive = true;

  constructor(
    readonly socket: WebSocket,
    readonly device: DevicePrincipal,
    private readonly messaging: MessagingService,
    private readonly log: FastifyBaseLogger,
  ) {}

  send(frame: ServerFrame): boolean {
    if (this.socket.readyState !== this.socket.OPEN) return false;
    if (this.socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      // Bounded memory: a device that does not read is disconnected; its queue keeps everything.
      this.socket.close(CLOSE.slowConsumer, 'slow_consumer');
      return false;
    }
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Waits until the send buffer is below the low-water mark. A device that reads slowly is waited
   * for; one whose buffer does not shrink for SLOW_CONSUMER_MS is cut off (its queue keeps everything).
   */
  private async drained(): Promise<boolean> {
    let last = this.socket.bufferedAmount;
    let deadline = Date.now() + SLOW_CONSUMER_MS;
    while (this.socket.bufferedAmount > LOW_WATER_BYTES) {
      if (this.socket.readyState !== this.socket.OPEN) return false;
      const now = Date.now();
      if (this.socket.bufferedAmount < last) {
        last = this.socket.bufferedAmount;
        deadline = now + SLOW_CONSUMER_MS;
      } else if (now > deadline) {
        this.socket.close(CLOSE.slowConsumer, 'slow_consumer');
        return false;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.socket.readyState === this.socket.OPEN;
  }

  /** The last delivery sent. */
  get sentUpTo(): number {
    return this.lastSent;
  }

  /** True while the pump is reading or sending. */
  get busy(): boolean {
    return this.pumping;
  }

  /**
   * Sends what a wake-up read for this connection: `items` are all of the device's deliveries
   * after `after` when they were read, in order. If the pump runs meanwhile, or went back
   * (`resume`), or the socket is backed up, the pump takes over and reads the queue itself.
   */
  deliverRead(after: number, items: QueueItem[]): void {
    if (this.pumping || this.lastSent < after) {
      void this.pump();
      return;
    }
    for (const item of items) {
      if (item.seq <= this.lastSent) continue; // already sent by the pump meanwhile
      if (this.socket.bufferedAmount > LOW_WATER_BYTES) {
        void this.pump();
        return;
      }
      if (!this.send({ type: 'deliver', item })) return;
      this.lastSent = item.seq;
    }
  }

  resume(after: number): void {
    this.lastSent = after;
    void this.pump();
  }

  /** Sends every queued delivery after the last one sent, in order, in batches. */
  pump(): Promise<void> {
    if (this.pumping) {
      this.again = true;
      return Promise.resolve();
    }
    this.pumping = true;
    return (async () => {
      try {
        do {
          this.again = false;
          for (;;) {
            const page = await this.messaging.queue(this.device, this.lastSent, BATCH);
            for (const item of page.items) {
              if (!(await this.drained()) || !this.send({ type: 'deliver', item })) return;
              this.lastSent = item.seq;
            }
            if (!page.more) break;
          }
        } while (this.again);
      } catch (err) {
        this.log.warn({ err, deviceId: this.device.deviceId }, 'stream pump failed');
      } finally {
        this.pumping = false;
      }
    })();
  }

  async onFrame(raw: string): Promise<void> {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      this.send({ type: 'error', code: 'invalid_frame', message: 'the frame is not JSON' });
      return;
    }
    const parsed = ClientFrameSchema.safeParse(json);
    if (!parsed.success) {
      this.send({
        type: 'error',
        code: 'invalid_frame',
        message: parsed.error.issues[0]?.message ?? 'invalid frame',
      });
      return;
    }
    const f = parsed.data;
    switch (f.type) {
      case 'ack':
        await this.messaging.ack(this.device, f.seqs);
        return;
      case 'resume':
        this.resume(f.after);
        return;
      case 'ping':
        this.send({ type: 'pong', t: f.t });
        return;
      case 'pong':
        this.alive = true;
        return;
      case 'auth':
        this.send({ type: 'error', code: 'invalid_frame', message: 'already authenticated' });
        return;
      case 'send':
        this.enqueueSend(f);
        return;
    }
  }

  /** `send` frames of this connection, handled one after another so their order is kept. */
  private sends: Promise<void> = Promise.resolve();
  private sendsQueued = 0;

  private enqueueSend(f: Extract<ClientFrame, { type: 'send' }>): void {
    if (this.sendsQueued >= MAX_QUEUED_SENDS) {
      this.send({
        type: 'error',
        code: 'rate_limited',
        message: `more than ${MAX_QUEUED_SENDS} messages waiting to be stored: wait for their 'sent' frames`,
        messageId: f.messageId,
      });
      return;
    }
    this.sendsQueued++;
    this.sends = this.sends.then(async () => {
      try {
        const r = await this.messaging.send(this.device, f.conversationId, f);
        this.send({ type: 'sent', ...r });
      } catch (err) {
        if (err instanceof AppError) {
          this.send({ type: 'error', code: err.code, message: err.message, messageId: f.messageId });
        } else {
          this.log.warn({ err, deviceId: this.device.deviceId }, 'stream send failed');
          this.send({
            type: 'error',
            code: 'internal_error',
            message: 'the message was not stored: send it again',
            messageId: f.messageId,
          });
        }
      } finally {
        this.sendsQueued--;
      }
    });
  }
}

/**
 * Live connections of devices on this node. Deliveries are pushed when the bus says a queue grew;
 * what is not acknowledged stays in the database, so a reconnect (to any node) resumes with nothing lost.
 */
export class StreamHub {
  private readonly byDevice = new Map<string, Set<Connection>>();
  private readonly timer: NodeJS.Timeout;
  private readonly presenceTimer: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[];
  /** Identifies this process in presence announcements. */
  private readonly processId = randomUUID();
  private readonly presenceMs: number;
  /** Other processes' last announced device counts, until they expire. */
  private readonly presence = new Map<string, { connectedDevices: number; expiresAt: number }>();
  /** Devices whose queues grew since the last {@link flushWakes}. */
  private readonly woken = new Set<string>();
  private wakeScheduled = false;

  constructor(
    private readonly messaging: MessagingService,
    private readonly commands: CommandService,
    private readonly bus: Bus,
    private readonly log: FastifyBaseLogger,
    private readonly opts: StreamHubOptions = {},
  ) {
    this.presenceMs = opts.presenceIntervalMs ?? PRESENCE_INTERVAL_MS;
    this.unsubscribe = [
      bus.subscribeEverywhere('queue.enqueued', ({ deviceIds }) => {
        for (const id of deviceIds) if (this.byDevice.has(id)) this.woken.add(id);
        if (this.woken.size && !this.wakeScheduled) {
          this.wakeScheduled = true;
          setImmediate(() => {
            this.wakeScheduled = false;
            void this.flushWakes();
          });
        }
      }),
      bus.subscribeEverywhere('presence', ({ processId, connectedDevices }) => {
        if (processId === this.processId) return;
        if (connectedDevices === 0) this.presence.delete(processId);
        else this.presence.set(processId, { connectedDevices, expiresAt: Date.now() + 3 * this.presenceMs });
      }),
      // Events may have been missed while the link was down: re-read what the database holds.
      bus.onReconnect(() => {
        this.catchUp().catch((err: unknown) => this.log.warn({ err }, 'stream catch-up failed'));
      }),
      bus.subscribeEverywhere('keypackages.low', ({ deviceId, available }) => {
        for (const c of this.byDevice.get(deviceId) ?? []) c.send({ type: 'keypackages_low', available });
      }),
      bus.subscribeEverywhere('command.queued', async ({ deviceId }) => {
        const conns = [...(this.byDevice.get(deviceId) ?? [])];
        if (!conns.length) return; // picked up at the next sync or connection
        for (const command of await this.commands.pendingFor(deviceId, { onlyNew: true }))
          for (const c of conns) c.send({ type: 'command', command });
      }),
      bus.subscribeEverywhere('policy.changed', ({ userIds }) => {
        const users = userIds === 'all' ? null : new Set(userIds);
        for (const set of this.byDevice.values())
          for (const c of set) if (!users || users.has(c.device.userId)) c.send({ type: 'policy_changed' });
      }),
      bus.subscribeEverywhere('device.revoked', ({ deviceId }) => {
        for (const c of this.byDevice.get(deviceId) ?? []) c.socket.close(CLOSE.revoked, 'device_revoked');
      }),
      bus.subscribeEverywhere('conversation.membership', ({ conversationId, memberDeviceIds }) => {
        // One connected member is asked to commit; asking all would only make them race for the epoch.
        for (const id of memberDeviceIds) {
          const c = [...(this.byDevice.get(id) ?? [])][0];
          if (c?.send({ type: 'membership', conversationId })) return;
        }
      }),
    ];
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
    this.presenceTimer = setInterval(() => this.announce(), this.presenceMs);
    this.presenceTimer.unref();
  }

  /** Devices with a stream open on this process. */
  get connectedDevices(): number {
    return this.byDevice.size;
  }

  /**
   * Devices with a stream open anywhere in the cluster (every node and worker), from the counts
   * each process announces every {@link PRESENCE_INTERVAL_MS}; a process that stops announcing
   * drops out after three intervals. A device connected to two processes counts twice.
   */
  clusterConnectedDevices(now = Date.now()): number {
    let n = this.connectedDevices;
    for (const [id, p] of this.presence) {
      if (p.expiresAt <= now) this.presence.delete(id);
      else n += p.connectedDevices;
    }
    return n;
  }

  /**
   * The wake-ups of one turn of the event loop together: the woken connections' queues are read
   * in one query per WAKE_BATCH connections instead of one each. A connection whose pump is
   * running, or an answer cut at WAKE_LIMIT rows, falls back to the connection's own pump.
   */
  private async flushWakes(): Promise<void> {
    const conns: Connection[] = [];
    for (const id of this.woken) for (const c of this.byDevice.get(id) ?? []) conns.push(c);
    this.woken.clear();
    for (let i = 0; i < conns.length; i += WAKE_BATCH) {
      const part = conns.slice(i, i + WAKE_BATCH).filter((c) => {
        if (!c.busy) return true;
        void c.pump(); // it reads again once done
        return false;
      });
      if (!part.length) continue;
      const wanted = part.map((c) => ({ deviceId: c.device.deviceId, after: c.sentUpTo }));
      try {
        const read = await this.messaging.queueMany(wanted, WAKE_LIMIT);
        part.forEach((c, k) => {
          if (read.complete) c.deliverRead(wanted[k]?.after ?? 0, read.items.get(c.device.deviceId) ?? []);
          else void c.pump();
        });
      } catch (err) {
        this.log.warn({ err }, 'stream wake-up read failed');
        for (const c of part) void c.pump();
      }
    }
  }

  private announce(): void {
    this.bus.publish('presence', { processId: this.processId, connectedDevices: this.connectedDevices });
  }

  /**
   * After the bus comes back: closes the streams of devices revoked meanwhile, pushes deliveries
   * and commands queued meanwhile (the database holds them; only the wake-ups were lost).
   */
  async catchUp(): Promise<void> {
    this.announce();
    const ids = [...this.byDevice.keys()];
    if (this.opts.inactiveAmong) {
      for (let i = 0; i < ids.length; i += 500) {
        for (const id of await this.opts.inactiveAmong(ids.slice(i, i + 500)))
          for (const c of this.byDevice.get(id) ?? []) c.socket.close(CLOSE.revoked, 'device_revoked');
      }
    }
    const queue = [...this.byDevice.entries()];
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [deviceId, set] = next;
        const conns = [...set];
        await Promise.all(conns.map((c) => c.pump()));
        for (const command of await this.commands.pendingFor(deviceId, { onlyNew: true }))
          for (const c of conns) c.send({ type: 'command', command });
      }
    };
    await Promise.all(Array.from({ length: CATCH_UP_CONCURRENCY }, worker));
  }

  attach(socket: WebSocket, device: DevicePrincipal, after: number): void {
    // The device may have gone while its token was being checked: a closed socket never emits
    // 'close' again, so registering it would keep it in the map for ever.
    if (socket.readyState !== socket.OPEN) return;
    const conn = new Connection(socket, device, this.messaging, this.log);
    const set = this.byDevice.get(device.deviceId) ?? new Set();
    set.add(conn);
    this.byDevice.set(device.deviceId, set);
    socket.on('pong', () => {
      conn.alive = true;
    });
    socket.on('message', (data, isBinary) => {
      if (isBinary) {
        conn.send({ type: 'error', code: 'invalid_frame', message: 'send text frames' });
        return;
      }
      const text = Buffer.isBuffer(data)
        ? data.toString('utf8')
        : Buffer.concat(data as Buffer[]).toString('utf8');
      conn.onFrame(text).catch((err: unknown) => {
        this.log.warn({ err }, 'stream frame failed');
        conn.send({ type: 'error', code: 'internal_error', message: 'the frame could not be handled' });
      });
    });
    socket.on('close', () => {
      set.delete(conn);
      if (set.size === 0) this.byDevice.delete(device.deviceId);
    });
    conn.send({ type: 'ready', deviceId: device.deviceId, heartbeatMs: HEARTBEAT_MS });
    conn.resume(after);
    // Commands queued while the device was away are pushed as soon as it connects.
    this.commands
      .pendingFor(device.deviceId)
      .then((cmds) => cmds.forEach((command) => conn.send({ type: 'command', command })))
      .catch((err: unknown) => this.log.warn({ err }, 'pending commands failed'));
  }

  private heartbeat(): void {
    for (const set of this.byDevice.values()) {
      for (const c of set) {
        if (!c.alive) {
          c.socket.terminate();
          continue;
        }
        c.alive = false;
        c.socket.ping();
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.presenceTimer);
    // The others stop counting this process's devices at once rather than after the expiry.
    this.bus.publish('presence', { processId: this.processId, connectedDevices: 0 });
    for (const u of this.unsubscribe) u();
    for (const set of this.byDevice.values())
      for (const c of set) c.socket.close(CLOSE.shutdown, 'server_shutdown');
  }
}
