import type { WebhookEventType } from '@enclave/protocol';

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
}

export type BusEvent = keyof BusEventMap;
export type BusHandler<E extends BusEvent> = (payload: BusEventMap[E]) => void | Promise<void>;

export interface Bus {
  publish<E extends BusEvent>(event: E, payload: BusEventMap[E]): void;
  subscribe<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void;
}

/** The single-process bus: handlers run after the current tick, and a failing handler is logged, not thrown. */
export class InProcessBus implements Bus {
  private readonly handlers = new Map<BusEvent, Set<BusHandler<BusEvent>>>();

  constructor(private readonly onError: (err: unknown, event: BusEvent) => void = () => undefined) {}

  publish<E extends BusEvent>(event: E, payload: BusEventMap[E]): void {
    for (const h of this.handlers.get(event) ?? []) {
      queueMicrotask(() => {
        Promise.resolve()
          .then(() => (h as BusHandler<E>)(payload))
          .catch((err: unknown) => this.onError(err, event));
      });
    }
  }

  subscribe<E extends BusEvent>(event: E, handler: BusHandler<E>): () => void {
    const set = this.handlers.get(event) ?? new Set();
    set.add(handler as BusHandler<BusEvent>);
    this.handlers.set(event, set);
    return () => set.delete(handler as BusHandler<BusEvent>);
  }
}
