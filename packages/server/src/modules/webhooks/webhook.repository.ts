import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type WebhookRow = Database['webhooks'];
export type DeliveryRow = Database['webhook_deliveries'];
export type AttemptRow = Omit<Database['webhook_attempts'], 'seq'>;

/** Webhook endpoints, their durable delivery queue and each delivery's attempts. */
export class WebhookRepository {
  constructor(private readonly db: Db) {}

  list() {
    return this.db.selectFrom('webhooks').selectAll().orderBy('created_at').orderBy('id').execute();
  }
  enabled() {
    return this.db.selectFrom('webhooks').selectAll().where('enabled', '=', 1).execute();
  }
  byId(id: string) {
    return this.db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst();
  }
  async insert(row: WebhookRow): Promise<void> {
    await this.db.insertInto('webhooks').values(row).execute();
  }
  async update(id: string, patch: Partial<Omit<WebhookRow, 'id'>>): Promise<void> {
    await this.db.updateTable('webhooks').set(patch).where('id', '=', id).execute();
  }
  async delete(id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('webhooks').where('id', '=', id).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async enqueue(rows: DeliveryRow[]): Promise<void> {
    if (rows.length) await this.db.insertInto('webhook_deliveries').values(rows).execute();
  }

  /** Pending deliveries whose next attempt is due, oldest first. */
  due(now: string, limit: number) {
    return this.db
      .selectFrom('webhook_deliveries')
      .selectAll()
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', now)
      .orderBy('next_attempt_at')
      .limit(limit)
      .execute();
  }

  /**
   * Takes a due delivery for this worker by moving its next attempt to `leaseUntil` — only if no
   * other worker (another node) moved it first. A worker that dies mid-send leaves the row to be
   * retried when the lease runs out.
   */
  async claim(id: string, seenNextAttemptAt: string, leaseUntil: string): Promise<boolean> {
    const r = await this.db
      .updateTable('webhook_deliveries')
      .set({ next_attempt_at: leaseUntil })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('next_attempt_at', '=', seenNextAttemptAt)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async recordAttempt(
    deliveryId: string,
    attempt: AttemptRow,
    patch: Pick<
      DeliveryRow,
      | 'status'
      | 'attempts'
      | 'next_attempt_at'
      | 'last_status_code'
      | 'last_error'
      | 'updated_at'
      | 'delivered_at'
    >,
  ): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      await tx.insertInto('webhook_attempts').values(attempt).execute();
      await tx.updateTable('webhook_deliveries').set(patch).where('id', '=', deliveryId).execute();
    });
  }

  async deliveries(webhookId: string, opts: { status?: string | undefined; limit: number; offset: number }) {
    let q = this.db.selectFrom('webhook_deliveries').where('webhook_id', '=', webhookId);
    if (opts.status) q = q.where('status', '=', opts.status);
    const total = await q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await q
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
  }

  delivery(id: string) {
    return this.db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async attempts(deliveryIds: string[]): Promise<Map<string, AttemptRow[]>> {
    const map = new Map<string, AttemptRow[]>();
    if (deliveryIds.length === 0) return map;
    const rows = await this.db
      .selectFrom('webhook_attempts')
      .select(['delivery_id', 'at', 'status_code', 'error', 'duration_ms'])
      .where('delivery_id', 'in', deliveryIds)
      .orderBy('seq')
      .execute();
    for (const r of rows) map.set(r.delivery_id, [...(map.get(r.delivery_id) ?? []), r]);
    return map;
  }
}
