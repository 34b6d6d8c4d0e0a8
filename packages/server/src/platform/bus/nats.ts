import { randomUUID } from 'node:crypto';
import { connect, Events, type NatsConnection, type Subscription } from 'nats';
import { z } from 'zod';
import {
  type BusEvent,
  type BusEventMap,
  BusEventSchemas,
  type BusHealth,
  type BusTransport,
  isBusEvent,
} from './bus.js';

/**
 * Core NATS (at most once), not JetStream, on purpose: every event is a wake-up whose state lives
 * in the database — queued deliveries, command rows, a device's status, webhook deliveries. A
 * process that misses events while its link is down re-reads that state when the link returns
 * (`onReconnect`: the stream hub re-pumps every connection, re-pushes pending commands and closes
 * the streams of devices revoked meanwhile), and a device that reconnects to any node resumes from
 * its queue. Nothing accepted is therefore lost without JetStream; a stream would only add a second
 * copy of state the database already holds. Trust boundary: payloads carry identifiers and counts,
 * never secrets or message content, and are validated on arrival; events from NATS only run the
 * `subscribeEverywhere` handlers (connection-bound work), never the once-only side effects, so a
 * party able to publish on NATS can at worst make nodes re-read state or drop a stream (the device
 * reconnects). Run NATS on a private network with credentials all the same.
 */

export interface NatsTransportLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface NatsTransportOptions {
  /** `nats://host:port` (credentials in the URL are never logged or echoed). */
  url: string;
  /**
   * Identifies the installation (e.g. its CA fingerprint): nodes of another installation that
   * share the NATS server are ignored. Events travel on `<subjectPrefix>.<event>`.
   */
  scope: string;
  /** Subject prefix, `enclave` by default (tests use their own to stay apart). */
  subjectPrefix?: string;
  log?: NatsTransportLog;
  /** Milliseconds to wait for the first connection (default 5 s). */
  connectTimeoutMs?: number;
}

const EnvelopeSchema = z.object({
  /** The sending process: a process ignores its own messages. */
  o: z.string().min(1).max(100),
  /** The installation: another installation's messages are ignored. */
  s: z.string().min(1).max(200),
  p: z.unknown(),
});

/** Splits events whose id lists could exceed NATS's payload limit (1 MB by default). */
const CHUNK = 5_000;

const silent: NatsTransportLog = { info: () => undefined, warn: () => undefined };

/** Removes credentials from a URL before it appears in a message. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'the NATS URL';
  }
}

/** Carries bus events between the nodes of a cluster over NATS. Reconnects for ever. */
export class NatsTransport implements BusTransport {
  readonly origin = randomUUID();
  private readonly prefix: string;
  private readonly scope: string;
  private readonly log: NatsTransportLog;
  private readonly reconnectHandlers = new Set<() => void>();
  private subscription: Subscription | undefined;
  private status: BusHealth = { status: 'up' };
  private closing = false;

  private constructor(
    private readonly nc: NatsConnection,
    opts: NatsTransportOptions,
  ) {
    this.prefix = opts.subjectPrefix ?? 'enclave';
    this.scope = opts.scope;
    this.log = opts.log ?? silent;
    void this.watchStatus();
    void nc.closed().then((err) => {
      if (this.closing) return;
      this.status = { status: 'down', detail: 'nats: connection closed' };
      this.log.warn({ err }, 'NATS connection closed');
    });
  }

  /** Connects, or throws one clear line if NATS cannot be reached now. */
  static async connect(opts: NatsTransportOptions): Promise<NatsTransport> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: opts.url,
        name: `enclave-${process.pid}`,
        timeout: opts.connectTimeoutMs ?? 5_000,
        maxReconnectAttempts: -1, // for ever: a node keeps serving its own devices meanwhile
        reconnectTimeWait: 1_000,
        pingInterval: 10_000, // a silently dead link is noticed within ~30 s
        maxPingOut: 2,
      });
    } catch (err) {
      const code = (err as { code?: string }).code ?? (err as Error).message;
      throw new Error(`cannot reach NATS at ${redactUrl(opts.url)}: ${code}`, { cause: err });
    }
    return new NatsTransport(nc, opts);
  }

  send<E extends BusEvent>(event: E, payload: BusEventMap[E]): void {
    if (this.closing) return;
    for (const part of split(event, payload)) {
      try {
        this.nc.publish(
          `${this.prefix}.${event}`,
          Buffer.from(JSON.stringify({ o: this.origin, s: this.scope, p: part })),
        );
      } catch (err) {
        // Closed or oversized: the database still holds the state; the others catch up on reconnect.
        this.log.warn({ err, event }, 'bus event not sent to NATS');
      }
    }
  }

  start(deliver: <E extends BusEvent>(event: E, payload: BusEventMap[E]) => void): void {
    if (this.subscription) return;
    const sub = this.nc.subscribe(`${this.prefix}.>`);
    this.subscription = sub;
    void (async () => {
      for await (const m of sub) {
        const event = m.subject.slice(this.prefix.length + 1);
        const parsed = this.parse(event, m.data);
        if (parsed) deliver(parsed.event, parsed.payload);
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'NATS subscription ended'));
  }

  /** Validates one message from NATS; anything malformed is logged and dropped, never thrown. */
  private parse(
    event: string,
    data: Uint8Array,
  ): { event: BusEvent; payload: BusEventMap[BusEvent] } | undefined {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(data).toString('utf8'));
    } catch {
      this.log.warn({ event: event.slice(0, 100) }, 'bus message dropped: not JSON');
      return undefined;
    }
    const envelope = EnvelopeSchema.safeParse(json);
    if (!envelope.success) {
      this.log.warn({ event: event.slice(0, 100) }, 'bus message dropped: no valid envelope');
      return undefined;
    }
    if (envelope.data.o === this.origin || envelope.data.s !== this.scope) return undefined;
    if (!isBusEvent(event)) {
      this.log.warn({ event: event.slice(0, 100) }, 'bus message dropped: unknown event');
      return undefined;
    }
    const payload = BusEventSchemas[event].safeParse(envelope.data.p);
    if (!payload.success) {
      const issue = payload.error.issues[0];
      this.log.warn(
        { event, path: issue?.path.join('.'), problem: issue?.message },
        'bus message dropped: invalid payload',
      );
      return undefined;
    }
    return { event, payload: payload.data };
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === Events.Disconnect) {
        this.status = { status: 'down', detail: 'nats: disconnected, reconnecting' };
        this.log.warn({}, 'NATS disconnected; serving local connections, reconnecting');
      } else if (s.type === Events.Reconnect) {
        this.status = { status: 'up' };
        this.log.info({}, 'NATS reconnected; catching up');
        for (const h of this.reconnectHandlers) {
          try {
            h();
          } catch (err) {
            this.log.warn({ err }, 'bus reconnect handler failed');
          }
        }
      }
    }
  }

  onReconnect(handler: () => void): () => void {
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  health(): BusHealth {
    return this.status;
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.status.status === 'up') {
      // Sends what is buffered, within reason; a NATS that does not answer does not hold up shutdown.
      await Promise.race([
        this.nc.flush().catch(() => undefined),
        new Promise((r) => setTimeout(r, 2_000).unref()),
      ]);
    }
    await this.nc.close().catch(() => undefined);
  }
}

function split<E extends BusEvent>(event: E, payload: BusEventMap[E]): BusEventMap[E][] {
  const chunks = <T>(list: T[]): T[][] => {
    const out: T[][] = [];
    for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
    return out;
  };
  if (event === 'queue.enqueued') {
    const p = payload as BusEventMap['queue.enqueued'];
    if (p.deviceIds.length > CHUNK)
      return chunks(p.deviceIds).map((deviceIds) => ({ deviceIds }) as BusEventMap[E]);
  }
  if (event === 'policy.changed') {
    const p = payload as BusEventMap['policy.changed'];
    if (p.userIds !== 'all' && p.userIds.length > CHUNK)
      return chunks(p.userIds).map((userIds) => ({ userIds }) as BusEventMap[E]);
  }
  return [payload];
}
