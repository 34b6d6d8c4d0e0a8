import type { Db } from '../../platform/db/database.js';

/**
 * Database leases for scheduled jobs: with several server nodes, the one whose atomic
 * `UPDATE … WHERE expires_at < now` changes the row runs the job; the others skip the interval.
 * Works the same on SQLite and PostgreSQL (the row lock serialises the updates).
 */
export class JobLeaseRepository {
  constructor(private readonly db: Db) {}

  /** True if `holder` now holds the lease `name` until `now + ttlMs`. */
  async acquire(name: string, holder: string, now: Date, ttlMs: number): Promise<boolean> {
    await this.db
      .insertInto('job_leases')
      .values({ name, holder: '', expires_at: new Date(0).toISOString() })
      .onConflict((oc) => oc.column('name').doNothing())
      .execute();
    const r = await this.db
      .updateTable('job_leases')
      .set({ holder, expires_at: new Date(now.getTime() + ttlMs).toISOString() })
      .where('name', '=', name)
      .where('expires_at', '<', now.toISOString())
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}
