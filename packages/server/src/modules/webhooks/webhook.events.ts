import type { Bus } from '../../platform/bus/bus.js';
import type { WebhookService } from './webhook.service.js';

/**
 * Feeds the bus into the webhook queue: `webhook.event` as published, and the domain events other
 * modules already publish under the same name (so they need not publish twice).
 */
export function subscribeWebhooks(bus: Bus, webhooks: WebhookService): void {
  const queue = async (type: Parameters<WebhookService['publish']>[0], data: Record<string, unknown>) => {
    await webhooks.publish(type, data);
  };
  bus.subscribe('webhook.event', ({ type, data }) => queue(type, data));
  bus.subscribe('device.activated', ({ deviceId, userId }) =>
    queue('device.activated', { deviceId, userId }),
  );
  bus.subscribe('device.revoked', ({ deviceId }) => queue('device.revoked', { deviceId }));
  bus.subscribe('command.state_changed', ({ commandId, deviceId, type, state, reason }) =>
    queue('command.state_changed', { commandId, deviceId, type, state, ...(reason ? { reason } : {}) }),
  );
}
