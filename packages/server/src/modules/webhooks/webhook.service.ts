import {
  WEBHOOK_TEST_EVENT,
  type Webhook,
  type WebhookDelivery,
  type WebhookEventType,
  type WebhookPayload,
  type WebhookWithSecret,
} from '@enclave/protocol';
import { notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { SecretBox } from '../../platform/keystore/keystore.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import { presentDelivery, presentWebhook } from './present.js';
import { newWebhookSecret, secretContext } from './signature.js';
import type { DeliveryRow, WebhookRepository, WebhookRow } from './webhook.repository.js';

interface WebhookInput {
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
}

/**
 * Webhook endpoints and the durable delivery queue. Admin changes are audited; the signing secret
 * is returned once (create, rotate), stored sealed, and appears in no list, log or audit entry.
 */
export class WebhookService {
  constructor(
    private readonly repo: WebhookRepository,
    private readonly audit: AuditService,
    private readonly secrets: SecretBox,
    /** Called after deliveries were queued, so the dispatcher sends them now instead of at its next poll. */
    private readonly onEnqueued: () => void = () => undefined,
  ) {}

  async list(): Promise<{ items: Webhook[] }> {
    return { items: (await this.repo.list()).map(presentWebhook) };
  }

  async get(id: string): Promise<Webhook> {
    return presentWebhook(await this.row(id));
  }

  async create(input: WebhookInput, by: AdminPrincipal, ip: string): Promise<WebhookWithSecret> {
    const id = crypto.randomUUID();
    const secret = newWebhookSecret();
    const now = new Date().toISOString();
    const row: WebhookRow = {
      id,
      url: input.url,
      description: input.description,
      events: JSON.stringify(dedupe(input.events)),
      enabled: input.enabled ? 1 : 0,
      secret_sealed: this.secrets.seal(secret, secretContext(id)),
      created_by: by.adminId,
      created_at: now,
      updated_at: now,
    };
    await this.repo.insert(row);
    await this.audit.record({
      actor: actorOf(by),
      action: 'webhook.created',
      target: id,
      details: { url: row.url, events: JSON.parse(row.events) as unknown, enabled: input.enabled },
      ip,
    });
    return { webhook: presentWebhook(row), secret };
  }

  async update(
    id: string,
    patch: { [K in keyof WebhookInput]?: WebhookInput[K] | undefined },
    by: AdminPrincipal,
    ip: string,
  ): Promise<Webhook> {
    await this.row(id);
    const set: Partial<WebhookRow> = { updated_at: new Date().toISOString() };
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.events !== undefined) set.events = JSON.stringify(dedupe(patch.events));
    if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
    await this.repo.update(id, set);
    await this.audit.record({
      actor: actorOf(by),
      action: 'webhook.updated',
      target: id,
      details: {
        fields: Object.keys(patch).filter((k) => patch[k as keyof WebhookInput] !== undefined),
        ...(patch.url !== undefined ? { url: patch.url } : {}),
        ...(patch.events !== undefined ? { events: patch.events } : {}),
        ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
      },
      ip,
    });
    return this.get(id);
  }

  async remove(id: string, by: AdminPrincipal, ip: string) {
    const row = await this.row(id);
    await this.repo.delete(id); // its deliveries and attempts go with it (ON DELETE CASCADE)
    await this.audit.record({
      actor: actorOf(by),
      action: 'webhook.deleted',
      target: id,
      details: { url: row.url },
      ip,
    });
    return { ok: true as const };
  }

  async rotateSecret(id: string, by: AdminPrincipal, ip: string): Promise<WebhookWithSecret> {
    await this.row(id);
    const secret = newWebhookSecret();
    await this.repo.update(id, {
      secret_sealed: this.secrets.seal(secret, secretContext(id)),
      updated_at: new Date().toISOString(),
    });
    await this.audit.record({ actor: actorOf(by), action: 'webhook.secret_rotated', target: id, ip });
    return { webhook: await this.get(id), secret };
  }

  /** Queues a `webhook.test` event for this endpoint alone (whatever its filter, even when disabled). */
  async sendTest(id: string, by: AdminPrincipal, ip: string): Promise<WebhookDelivery> {
    const hook = await this.row(id);
    const payload = newPayload(WEBHOOK_TEST_EVENT, {
      webhookId: id,
      message: 'a test event sent by an administrator from Enclave',
    });
    const [delivery] = this.deliveryRows(payload, [hook]);
    await this.repo.enqueue(delivery ? [delivery] : []);
    await this.audit.record({ actor: actorOf(by), action: 'webhook.test_sent', target: id, ip });
    this.onEnqueued();
    return presentDelivery(delivery as DeliveryRow, []);
  }

  async deliveries(id: string, q: { status?: string | undefined; limit: number; offset: number }) {
    await this.row(id);
    const { rows, total } = await this.repo.deliveries(id, q);
    const attempts = await this.repo.attempts(rows.map((r) => r.id));
    return {
      items: rows.map((r) => presentDelivery(r, attempts.get(r.id) ?? [])),
      total,
      limit: q.limit,
      offset: q.offset,
    };
  }

  /** Queues one delivery of the event for every enabled endpoint whose filter matches it. */
  async publish(type: WebhookEventType, data: Record<string, unknown>): Promise<number> {
    const hooks = (await this.repo.enabled()).filter((h) => {
      const events = JSON.parse(h.events) as string[];
      return events.includes('*') || events.includes(type);
    });
    if (hooks.length === 0) return 0;
    const rows = this.deliveryRows(newPayload(type, data), hooks);
    await this.repo.enqueue(rows);
    this.onEnqueued();
    return rows.length;
  }

  private deliveryRows(payload: WebhookPayload, hooks: WebhookRow[]): DeliveryRow[] {
    const body = JSON.stringify(payload);
    return hooks.map((h) => ({
      id: crypto.randomUUID(),
      webhook_id: h.id,
      event_id: payload.id,
      event_type: payload.type,
      payload: body,
      status: 'pending',
      attempts: 0,
      next_attempt_at: payload.occurredAt,
      last_status_code: null,
      last_error: null,
      created_at: payload.occurredAt,
      updated_at: payload.occurredAt,
      delivered_at: null,
    }));
  }

  private async row(id: string): Promise<WebhookRow> {
    const row = await this.repo.byId(id);
    if (!row) throw notFound('webhook');
    return row;
  }
}

function newPayload(type: string, data: Record<string, unknown>): WebhookPayload {
  return { id: crypto.randomUUID(), type, occurredAt: new Date().toISOString(), data };
}

function dedupe(events: string[]): string[] {
  return events.includes('*') ? ['*'] : [...new Set(events)];
}
