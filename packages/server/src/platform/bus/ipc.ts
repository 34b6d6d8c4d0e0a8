import {
  type BusEvent,
  type BusEventMap,
  BusEventSchemas,
  type BusHealth,
  type BusTransport,
  isBusEvent,
} from './bus.js';

/** Marks the bus's messages on a worker's IPC channel (prom-client and cluster use the same channel). */
const TAG = 'enclave:bus';
/** Events per IPC message at most; a burst is split rather than sent as one huge message. */
const MAX_BATCH = 500;

/** A message on the IPC channel: the events one worker published during one turn of its event loop. */
interface Envelope {
  t: typeof TAG;
  events: [string, unknown][];
}

/** The IPC end of a cluster worker (`process` in a worker; a fake in tests). */
export interface IpcChannel {
  readonly connected: boolean;
  send?: ((message: unknown, callback: (err: Error | null) => void) => boolean) | undefined;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
}

function isEnvelope(m: unknown): m is Envelope {
  return (
    typeof m === 'object' && m !== null && (m as Envelope).t === TAG && Array.isArray((m as Envelope).events)
  );
}

/**
 * The bus transport between the workers of one node (node:cluster) when no NATS is configured:
 * a worker sends its events to the primary over the IPC channel, and the primary relays them to
 * every other worker ({@link relayBusMessages}). Events published in one turn of the event loop
 * travel as one message. What arrives is validated against {@link BusEventSchemas}; an invalid
 * event is dropped and reported through `onInvalid`.
 */
export class IpcTransport implements BusTransport {
  private pending: [BusEvent, unknown][] = [];
  private flushScheduled = false;
  private listener: ((m: unknown) => void) | undefined;
  private closed = false;

  constructor(
    private readonly channel: IpcChannel = process,
    private readonly onInvalid: (detail: string) => void = () => undefined,
  ) {}

  send<E extends BusEvent>(event: E, payload: BusEventMap[E]): void {
    if (this.closed || !this.channel.connected) return; // alone: nobody else to wake up
    this.pending.push([event, payload]);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  start(deliver: <E extends BusEvent>(event: E, payload: BusEventMap[E]) => void): void {
    this.listener = (m: unknown) => {
      if (!isEnvelope(m)) return;
      for (const item of m.events) {
        const [name, payload] = Array.isArray(item) ? (item as [unknown, unknown]) : [undefined, undefined];
        if (!isBusEvent(name)) {
          this.onInvalid(`unknown event ${JSON.stringify(String(name)).slice(0, 80)}`);
          continue;
        }
        const parsed = BusEventSchemas[name].safeParse(payload);
        if (!parsed.success) {
          this.onInvalid(`invalid ${name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
          continue;
        }
        deliver(name, parsed.data);
      }
    };
    this.channel.on('message', this.listener);
  }

  /** The IPC channel never reconnects: a worker whose primary is gone exits. */
  onReconnect(): () => void {
    return () => undefined;
  }

  health(): BusHealth {
    return this.channel.connected
      ? { status: 'up' }
      : { status: 'down', detail: 'ipc: the primary process is gone' };
  }

  close(): Promise<void> {
    this.flush();
    this.closed = true;
    if (this.listener) this.channel.off('message', this.listener);
    this.listener = undefined;
    return Promise.resolve();
  }

  private flush(): void {
    this.flushScheduled = false;
    const events = this.pending;
    this.pending = [];
    if (!events.length || !this.channel.connected || !this.channel.send) return;
    for (let i = 0; i < events.length; i += MAX_BATCH) {
      const envelope: Envelope = { t: TAG, events: events.slice(i, i + MAX_BATCH) };
      // The callback swallows a channel closed meanwhile (the worker is on its way out).
      this.channel.send(envelope, () => undefined);
    }
  }
}

/** A worker as the primary sees it (node:cluster's `Worker`). */
export interface RelayTarget {
  send(message: unknown, callback: (err: Error | null) => void): boolean;
  isConnected(): boolean;
}

/**
 * In the primary: relays each worker's bus messages to every other connected worker (never back to
 * the sender). Only the envelope is checked here; each receiving worker validates the events.
 * Call the handler returned with every `(worker, message)` of `cluster.on('message')`.
 */
export function relayBusMessages<W extends RelayTarget>(
  workers: () => Iterable<W | undefined>,
): (from: W, message: unknown) => void {
  return (from, message) => {
    if (!isEnvelope(message)) return;
    for (const w of workers()) if (w && w !== from && w.isConnected()) w.send(message, () => undefined);
  };
}
