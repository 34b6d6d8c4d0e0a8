import { type WebhookEventType, WebhookEventTypeSchema } from '@enclave/protocol';
import { z } from 'zod';

/**
 * Events between modules and, in a cluster, between nodes. The map is the contract: every subject
 * and its payload are typed here, so a publisher and a subscriber cannot disagree.
 */
export interface BusEventMap {
  /** New deliveries are waiting in these devices' queues. */
  'queue.enqueued': { deviceIds: string[] };
  /** A device was activated (it joins its user's conversations). */
  'device.activated': { deviceId: string; userId: string };
  /** A signed command is waiting for this device (push it on its stream). */
  'command.queued': { deviceId: string };
  /** A command moved in its lifecycle. */
  'command.state_changed': {
    commandId: string;
    deviceId: string;
    type: string;
    state: string;
    reason?: string;
  };
  /** A device was revoked: close its streams, remove it from conversations. */
  'device.revoked': { deviceId: string };
  /** A device's stock of KeyPackages on the server ran low: it should upload more. */
  'keypackages.low': { deviceId: string; available: number };
  /** Devices are waiting to be added to or removed from a conversation by a member's commit. */
  'conversation.membership': { conversationId: string; memberDeviceIds: string[] };
  /** The effective policy of these users (or of everyone) may have changed: devices should refetch it. */
  'policy.changed': { userIds: string[] | 'all' };
  /**
   * Something happened that webhook endpoints may subscribe to; `type` is one of protocol's
   * `WEBHOOK_EVENT_TYPES` (e.g. `user.created`, `command.state_changed`). No secrets in `data`.
   */
  'webhook.event': { type: WebhookEventType; data: Record<string, unknown> };
  /**
   * A process's count of connected devices, published every few seconds by each process and
   * expiring if not repeated: the sum over live processes is the cluster's "connected now".
   */
  presence: { processId: string; connectedDevices: number };
}

export type BusEvent = keyof BusEventMap;

const BusId = z.string().min(1).max(200);
const BusIds = z.array(BusId).max(100_000);

/**
 * The payload schema of every event in {@link BusEventMap}. What arrives from another process (IPC
 * between workers, NATS between nodes) is parsed with these before any handler sees it.
 */
export const BusEventSchemas: { [E in BusEvent]: z.ZodType<BusEventMap[E]> } = {
  'queue.enqueued': z.object({ deviceIds: BusIds }),
  'device.activated': z.object({ deviceId: BusId, userId: BusId }),
  'command.queued': z.object({ deviceId: BusId }),
  'command.state_changed': z.object({
    commandId: BusId,
    deviceId: BusId,
    type: z.string().min(1).max(100),
    state: z.string().min(1).max(100),
    reason: z.string().max(2000).optional(),
  }),
  'device.revoked': z.object({ deviceId: BusId }),
  'keypackages.low': z.object({ deviceId: BusId, available: z.number().int().min(0) }),
  'conversation.membership': z.object({ conversationId: BusId, memberDeviceIds: BusIds }),
  'policy.changed': z.object({ userIds: z.union([BusIds, z.literal('all')]) }),
  'webhook.event': z.object({ type: WebhookEventTypeSchema, data: z.record(z.string(), z.unknown()) }),
  presence: z.object({ processId: BusId, connectedDevices: z.number().int().min(0) }),
};

/** True for the name of an event in {@link BusEventMap}. */
export function isBusEvent(name: unknown): name is BusEvent {
  return typeof name === 'string' && Object.hasOwn(BusEventSchemas, name);
}
export type BusHandler<E extends BusEvent> = (payload: BusEventMap[E]) => void | Promise<void>;

/** Whether events reach the other nodes/workers. A single process is always `up`. */
export interface BusHealth {
  status: 'up' | 'down';
  /** Why it is down (no secrets), e.g. `nats: connection refused`. */
  detail?: string;
}

/**
 * The event bus. Two kinds of subscription, because a cluster has two kinds of work:
 * - `subscribe`: side effects that must happen **once** (write to the database, queue a webhook):
 *   the handler runs only in the process that published the event.
 * - `subscribeEverywhere`: work bound to connections a process holds (push to a device's stream,
 *   close a revoked device's socket): the handler runs in **every** process of every node,
 *   including the publisher.
 * Durability lives in the database (queues, command rows, outboxes); the bus only wakes processes
 * up, so an event lost while a link is down is recovered by `onReconnect` handlers re-reading state.
 */
export interface Bus {
  publish<E extends BusEvent>(event: E, payload: BusEventMap[E]): void;
  subscribe<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void;
  subscribeEverywhere<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void;
  /** Called after the link to the other processes came back (events may have been missed). */
  onReconnect(handler: () => void): () => void;
  health(): BusHealth;
  close(): Promise<void>;
}

/**
 * How events travel between processes: NATS between nodes, IPC between the workers of one node.
 * Implementations validate what they receive (it crossed a process boundary) before delivering it.
 */
export interface BusTransport {
  /** Sends to every other process; never delivers back to this one. */
  send<E extends BusEvent>(event: E, payload: BusEventMap[E]): void;
  /** Starts delivering events from other processes. */
  start(deliver: <E extends BusEvent>(event: E, payload: BusEventMap[E]) => void): void;
  onReconnect(handler: () => void): () => void;
  health(): BusHealth;
  close(): Promise<void>;
}

type AnyHandler = BusHandler<BusEvent>;

/**
 * The bus of one process. Handlers run after the current tick, and a failing handler is logged,
 * not thrown. With a transport, events are also sent to the other processes, whose
 * `subscribeEverywhere` handlers run them; without one, the process is the whole cluster.
 */
export class InProcessBus implements Bus {
  private readonly once = new Map<BusEvent, Set<AnyHandler>>();
  private readonly everywhere = new Map<BusEvent, Set<AnyHandler>>();
  private readonly reconnectHandlers = new Set<() => void>();

  constructor(
    private readonly onError: (err: unknown, event: BusEvent) => void = () => undefined,
    private readonly transport?: BusTransport,
  ) {
    transport?.start((event, payload) => this.run(this.everywhere.get(event), event, payload));
  }

  publish<E extends BusEvent>(event: E, payload: BusEventMap[E]): void {
    this.run(this.once.get(event), event, payload);
    this.run(this.everywhere.get(event), event, payload);
    this.transport?.send(event, payload);
  }

  subscribe<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void {
    return add(this.once, event, handler as AnyHandler);
  }

  subscribeEverywhere<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void {
    return add(this.everywhere, event, handler as AnyHandler);
  }

  onReconnect(handler: () => void): () => void {
    if (this.transport) return this.transport.onReconnect(handler);
    this.reconnectHandlers.add(handler);
    return () => this.reconnectHandlers.delete(handler);
  }

  health(): BusHealth {
    return this.transport?.health() ?? { status: 'up' };
  }

  async close(): Promise<void> {
    await this.transport?.close();
  }

  private run<E extends BusEvent>(
    handlers: Set<AnyHandler> | undefined,
    event: E,
    payload: BusEventMap[E],
  ): void {
    for (const h of handlers ?? []) {
      queueMicrotask(() => {
        Promise.resolve()
          .then(() => (h as BusHandler<E>)(payload))
          .catch((err: unknown) => this.onError(err, event));
      });
    }
  }
}

function add(map: Map<BusEvent, Set<AnyHandler>>, event: BusEvent, handler: AnyHandler): () => void {
  const set = map.get(event) ?? new Set();
  set.add(handler);
  map.set(event, set);
  return () => set.delete(handler);
}
