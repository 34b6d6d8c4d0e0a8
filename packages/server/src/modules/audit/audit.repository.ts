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

  async page(opts: {
    limit: number;
    offset: number;
    action?: string | undefined;
    q?: string | undefined;
  }): Promise<{ rows: AuditRow[]; total: number }> {
    let query = this.db.selectFrom('audit_log');
    if (opts.action) query = query.where('action', '=', opts.action);
    if (opts.q) {
      const like = `%${opts.q.toLowerCase()}%`;
      query = query.where((eb) =>
        eb.or([eb('actor_label', 'like', like), eb('target', 'like', like), eb('action', 'like', like)]),
      );
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
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
