import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type AdminRow = Database['admins'];
export type SessionRow = Database['admin_sessions'];

export class AdminRepository {
  constructor(private readonly db: Db) {}

  byEmail(email: string): Promise<AdminRow | undefined> {
    return this.db.selectFrom('admins').selectAll().where('email', '=', email).executeTakeFirst();
  }
  byId(id: string): Promise<AdminRow | undefined> {
    return this.db.selectFrom('admins').selectAll().where('id', '=', id).executeTakeFirst();
  }
  list(): Promise<AdminRow[]> {
    return this.db.selectFrom('admins').selectAll().orderBy('email').execute();
  }
  async count(): Promise<number> {
    const r = await this.db
      .selectFrom('admins')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async insert(row: AdminRow): Promise<void> {
    await this.db.insertInto('admins').values(row).execute();
  }
  async update(id: string, patch: Partial<AdminRow>): Promise<void> {
    await this.db.updateTable('admins').set(patch).where('id', '=', id).execute();
  }

  /**
   * Changes a role or deletes an admin unless that would leave no Security Administrator; the check
   * and the change share one transaction so two concurrent demotions cannot both pass.
   */
  async changeKeepingSecurityAdmin(id: string, change: { role: string } | 'delete'): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (change === 'delete') await trx.deleteFrom('admins').where('id', '=', id).execute();
      else
        await trx
          .updateTable('admins')
          .set({ role: change.role, updated_at: new Date().toISOString() })
          .where('id', '=', id)
          .execute();
      const left = await trx
        .selectFrom('admins')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('role', '=', 'security-admin')
        .executeTakeFirstOrThrow();
      if (Number(left.n) === 0) throw new LastSecurityAdmin();
      return true;
    });
  }

  async insertSession(row: SessionRow): Promise<void> {
    await this.db.insertInto('admin_sessions').values(row).execute();
  }
  sessionByTokenHash(tokenHash: string) {
    return this.db
      .selectFrom('admin_sessions')
      .innerJoin('admins', 'admins.id', 'admin_sessions.admin_id')
      .select([
        'admin_sessions.id as sessionId',
        'admin_sessions.csrf_hash',
        'admin_sessions.expires_at',
        'admins.id as adminId',
        'admins.email',
        'admins.role',
      ])
      .where('admin_sessions.token_hash', '=', tokenHash)
      .executeTakeFirst();
  }
  async deleteSession(id: string): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('id', '=', id).execute();
  }
  async deleteSessionsOf(adminId: string): Promise<void> {
    await this.db.deleteFrom('admin_sessions').where('admin_id', '=', adminId).execute();
  }

  async recordFailure(keys: string[], at: string): Promise<void> {
    await this.db
      .insertInto('login_failures')
      .values(keys.map((key) => ({ id: crypto.randomUUID(), key, at })))
      .execute();
  }
  async failuresSince(key: string, since: string): Promise<number> {
    const r = await this.db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('key', '=', key)
      .where('at', '>=', since)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async clearFailures(key: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', key).execute();
  }
}

export class LastSecurityAdmin extends Error {
  override name = 'LastSecurityAdmin';
}
