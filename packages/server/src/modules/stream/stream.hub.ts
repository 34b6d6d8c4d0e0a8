import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import { ClientFrameSchema, type ServerFrame } from '@enclave/protocol';
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

/** WebSocket close codes of our own (RFC 6455 §7.4.2: 4000–4999 are private use). */
export const CLOSE = { unauthenticated: 4001, revoked: 4003, slowConsumer: 4008, shutdown: 1001 } as const;

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

  resume(after: number): void {
    this.lastSent = after;
    this.pump();
  }

  /** Sends every queued delivery after the last one sent, in order, in batches. */
  pump(): void {
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void (async () => {
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
    }
  }
}

/**
 * Live connections of devices on this node. Deliveries are pushed when the bus says a queue grew;
 * what is not acknowledged stays in the database, so a reconnect (to any node) resumes with nothing lost.
 */
export class StreamHub {
  private readonly byDevice = new Map<string, Set<Connection>>();
  private readonly timer: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[];

  constructor(
    private readonly messaging: MessagingService,
    private readonly commands: CommandService,
    bus: Bus,
    private readonly log: FastifyBaseLogger,
  ) {
    this.unsubscribe = [
      bus.subscribe('queue.enqueued', ({ deviceIds }) => {
        for (const id of deviceIds) for (const c of this.byDevice.get(id) ?? []) c.pump();
      }),
      bus.subscribe('keypackages.low', ({ deviceId, available }) => {
        for (const c of this.byDevice.get(deviceId) ?? []) c.send({ type: 'keypackages_low', available });
      }),
      bus.subscribe('command.queued', async ({ deviceId }) => {
        const conns = [...(this.byDevice.get(deviceId) ?? [])];
        if (!conns.length) return; // picked up at the next sync or connection
        for (const command of await this.commands.pendingFor(deviceId, { onlyNew: true }))
          for (const c of conns) c.send({ type: 'command', command });
      }),
      bus.subscribe('policy.changed', ({ userIds }) => {
        const users = userIds === 'all' ? null : new Set(userIds);
        for (const set of this.byDevice.values())
          for (const c of set) if (!users || users.has(c.device.userId)) c.send({ type: 'policy_changed' });
      }),
      bus.subscribe('device.revoked', ({ deviceId }) => {
        for (const c of this.byDevice.get(deviceId) ?? []) c.socket.close(CLOSE.revoked, 'device_revoked');
      }),
      bus.subscribe('conversation.membership', ({ conversationId, memberDeviceIds }) => {
        // One connected member is asked to commit; asking all would only make them race for the epoch.
        for (const id of memberDeviceIds) {
          const c = [...(this.byDevice.get(id) ?? [])][0];
          if (c?.send({ type: 'membership', conversationId })) return;
        }
      }),
    ];
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_MS);
    this.timer.unref();
  }

  get connectedDevices(): number {
    return this.byDevice.size;
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
    for (const u of this.unsubscribe) u();
    for (const set of this.byDevice.values())
      for (const c of set) c.socket.close(CLOSE.shutdown, 'server_shutdown');
  }
}
