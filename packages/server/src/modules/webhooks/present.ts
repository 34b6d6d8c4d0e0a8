import type { Webhook, WebhookDelivery } from '@enclave/protocol';
import type { AttemptRow, DeliveryRow, WebhookRow } from './webhook.repository.js';

/** The API view of an endpoint: everything but the sealed secret. */
export function presentWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as string[],
    enabled: row.enabled === 1,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function presentDelivery(row: DeliveryRow, attempts: AttemptRow[]): WebhookDelivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: row.event_id,
    event: row.event_type,
    status: row.status as WebhookDelivery['status'],
    attempts: Number(row.attempts),
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
    attemptLog: attempts.map((a) => ({
      at: a.at,
      statusCode: a.status_code === null ? null : Number(a.status_code),
      error: a.error,
      durationMs: Number(a.duration_ms),
    })),
  };
}
