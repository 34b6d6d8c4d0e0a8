import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type ActivationRow = Database['activations'];
export type AttemptRow = Database['activation_attempts'];

export class ActivationRepository {
  constructor(private readonly db: Db) {}

  async insert(row: ActivationRow): Promise<void> {
    await this.db.insertInto('activations').values(row).execute();
  }
  byId(id: string) {
    return this.db.selectFrom('activations').selectAll().where('id', '=', id).executeTakeFirst();
  }
  /** The user's activation passwords that are live or ended recently, newest first. */
  recentForUser(userId: string, since: string) {
    return this.db
      .selectFrom('activations')
      .selectAll()
      .where('user_id', '=', userId)
      .where((eb) => eb.or([eb('used_at', 'is', null), eb('used_at', '>=', since)]))
      .where('expires_at', '>=', since)
      .orderBy('created_at', 'desc')
      .limit(50)
      .execute();
  }
  listForUser(userId: string) {
    return this.db
      .selectFrom('activations')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at', 'desc')
      .limit(100)
      .execute();
  }
  async adjustAttempts(ids: string[], delta: 1 | -1): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('activations')
      .set((eb) => ({
        failed_attempts: delta === 1 ? eb('failed_attempts', '+', 1) : eb('failed_attempts', '-', 1),
      }))
      .where('id', 'in', ids)
      .where('used_at', 'is', null)
      .execute();
  }
  async expireNow(id: string, now: string): Promise<void> {
    await this.db.updateTable('activations').set({ expires_at: now }).where('id', '=', id).execute();
  }

  async insertAttempt(row: AttemptRow): Promise<void> {
    await this.db.insertInto('activation_attempts').values(row).execute();
  }
  /** Reads and deletes an attempt: each OPAQUE login state is used at most once. */
  async takeAttempt(id: string) {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('activation_attempts')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (row) await trx.deleteFrom('activation_attempts').where('id', '=', id).execute();
      return row;
    });
  }
  async purgeAttempts(now: string): Promise<void> {
    await this.db.deleteFrom('activation_attempts').where('expires_at', '<', now).execute();
  }

  /**
   * Marks the activation used and records the device in one transaction. The `used_at is null`
   * guard makes a password single-use even when two devices race with it.
   */
  async consume(
    activationId: string,
    deviceId: string,
    now: string,
    device: Database['devices'],
  ): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('activations')
        .set({ used_at: now, device_id: deviceId })
        .where('id', '=', activationId)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return false;
      await trx.insertInto('devices').values(device).execute();
      return true;
    });
  }
}
