import type { AuditFilter } from '@enclave/protocol';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type AuditRow = Database['audit_log'];

/** The audit chain's rows and its head (kept in `meta` so deleting the newest rows is detected too). */
export class AuditRepository {
  constructor(private readonly db: Db) {}

  /** Appends `build(prev)` as the next entry in one transaction; the caller retries on a seq conflict. */
  async append(build: (prev: { seq: number; hash: string }) => AuditRow): Promise<AuditRow> {
    return this.db.transaction().execute(async (trx) => {
      const head = await trx
        .selectFrom('audit_log')
        .select(['seq', 'hash'])
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      const row = build(head ? { seq: Number(head.seq), hash: head.hash } : { seq: 0, hash: GENESIS });
      await trx.insertInto('audit_log').values(row).execute();
      const value = `${row.seq}:${row.hash}`;
      await trx
        .insertInto('meta')
        .values({ key: 'audit_head', value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute();
      return row;
    });
  }

  private filtered(f: AuditFilter) {
    let query = this.db.selectFrom('audit_log');
    if (f.action) query = query.where('action', '=', f.action);
    if (f.actor) {
      const actor = f.actor;
      query = query.where((eb) => eb.or([eb('actor_id', '=', actor), eb('actor_label', '=', actor)]));
    }
    if (f.target) query = query.where('target', '=', f.target);
    if (f.from) query = query.where('at', '>=', f.from);
    if (f.to) query = query.where('at', '<', f.to);
    if (f.q) {
      const like = `%${f.q.toLowerCase()}%`;
      query = query.where((eb) =>
        eb.or([eb('actor_label', 'like', like), eb('target', 'like', like), eb('action', 'like', like)]),
      );
    }
    return query;
  }

  async page(
    opts: AuditFilter & { limit: number; offset: number },
  ): Promise<{ rows: AuditRow[]; total: number }> {
    const query = this.filtered(opts);
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
  }

  /** The next `size` matching entries below `beforeSeq`, newest first (keyset paging for the export). */
  async filteredBefore(f: AuditFilter, beforeSeq: number, size: number): Promise<AuditRow[]> {
    return this.filtered(f)
      .selectAll()
      .where('seq', '<', beforeSeq)
      .orderBy('seq', 'desc')
      .limit(size)
      .execute();
  }

  async batchAfter(seq: number, size: number): Promise<AuditRow[]> {
    return this.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>', seq)
      .orderBy('seq', 'asc')
      .limit(size)
      .execute();
  }

  async head(): Promise<{ seq: number; hash: string } | undefined> {
    const row = await this.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'audit_head')
      .executeTakeFirst();
    if (!row) return undefined;
    const [seq, hash] = row.value.split(':');
    return { seq: Number(seq), hash: hash ?? '' };
  }
}

export const GENESIS = '0'.repeat(64);
