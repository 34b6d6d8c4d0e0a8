import { sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type DeviceRow = Database['devices'];

/** The inventory's filters (all optional, combined with AND). */
export interface DeviceFilter {
  q?: string | undefined;
  status?: string | undefined;
  userId?: string | undefined;
  platform?: string | undefined;
  compliance?: string | undefined;
  lastContactBefore?: string | undefined;
  lastContactAfter?: string | undefined;
}
export type CommandRow = Database['device_commands'];

export class DeviceRepository {
  constructor(private readonly db: Db) {}

  private withUser() {
    return this.db
      .selectFrom('devices')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .selectAll('devices')
      .select('users.email as user_email');
  }

  byId(id: string) {
    return this.withUser().where('devices.id', '=', id).executeTakeFirst();
  }

  /** Those of `ids` that are no longer active (revoked, wiped) or gone. */
  async inactiveAmong(ids: string[]): Promise<string[]> {
    if (!ids.length) return [];
    const active = await this.db
      .selectFrom('devices')
      .select('id')
      .where('id', 'in', ids)
      .where('status', '=', 'active')
      .execute();
    const keep = new Set(active.map((r) => r.id));
    return ids.filter((id) => !keep.has(id));
  }

  async page(opts: DeviceFilter & { limit: number; offset: number }) {
    let query = this.db.selectFrom('devices').innerJoin('users', 'users.id', 'devices.user_id');
    if (opts.status) query = query.where('devices.status', '=', opts.status);
    if (opts.userId) query = query.where('devices.user_id', '=', opts.userId);
    if (opts.platform) query = query.where('devices.platform', '=', opts.platform);
    if (opts.compliance) query = query.where('devices.compliance', '=', opts.compliance);
    // A device never seen since activation counts from its activation.
    const lastSeen = sql<string>`coalesce(devices.last_contact_at, devices.activated_at)`;
    if (opts.lastContactBefore) query = query.where(lastSeen, '<', opts.lastContactBefore);
    if (opts.lastContactAfter) query = query.where(lastSeen, '>=', opts.lastContactAfter);
    if (opts.q) {
      const like = `%${opts.q.toLowerCase()}%`;
      query = query.where((eb) =>
        eb.or([
          eb('users.email', 'like', like),
          eb(eb.fn('lower', ['devices.name']), 'like', like),
          eb('devices.id', 'like', like),
        ]),
      );
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll('devices')
      .select('users.email as user_email')
      .orderBy('devices.activated_at', 'desc')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
  }

  async insert(row: DeviceRow): Promise<void> {
    await this.db.insertInto('devices').values(row).execute();
  }

  async touch(id: string, at: string): Promise<void> {
    await this.db.updateTable('devices').set({ last_contact_at: at }).where('id', '=', id).execute();
  }

  /** Revokes the device and records the command in one transaction; false if it was already revoked. */
  async revoke(id: string, at: string, command: CommandRow): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const r = await trx
        .updateTable('devices')
        .set({ status: 'revoked', revoked_at: at })
        .where('id', '=', id)
        .where('status', '=', 'active')
        .executeTakeFirst();
      await trx.insertInto('device_commands').values(command).execute();
      // Sessions stay until they expire: every request checks the device status, so a revoked
      // device's token is refused at once, and with the precise code `device_revoked`.
      await trx.deleteFrom('device_challenges').where('device_id', '=', id).execute();
      return Number(r.numUpdatedRows) > 0;
    });
  }

  /** Conversations the device is a member of (removal pending still counts until it is committed). */
  /** The device's last posture report, as the compliance module stored it. */
  async posture(deviceId: string) {
    const r = await this.db
      .selectFrom('device_postures')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    return r
      ? {
          platform: r.platform,
          osVersion: r.os_version,
          clientVersion: r.client_version,
          passcodeSet: Number(r.passcode_set) === 1,
          storageEncrypted: Number(r.storage_encrypted) === 1,
          rooted: Number(r.rooted) === 1,
          reportedAt: r.reported_at,
        }
      : null;
  }

  async conversationCount(deviceId: string): Promise<number> {
    const r = await this.db
      .selectFrom('conversation_devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('device_id', '=', deviceId)
      .where('state', 'in', ['member', 'pending_remove'])
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  commands(deviceId: string) {
    return this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .orderBy('created_at', 'desc')
      .execute();
  }

  // Device authentication

  async insertChallenge(row: Database['device_challenges']): Promise<void> {
    await this.db.insertInto('device_challenges').values(row).execute();
  }

  /** Reads and deletes a challenge in one step, so it can be answered once only. */
  async takeChallenge(id: string) {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('device_challenges')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirst();
      if (row) await trx.deleteFrom('device_challenges').where('id', '=', id).execute();
      return row;
    });
  }

  async insertSession(row: Database['device_sessions']): Promise<void> {
    await this.db.insertInto('device_sessions').values(row).execute();
  }

  sessionByTokenHash(hash: string) {
    return this.db
      .selectFrom('device_sessions')
      .innerJoin('devices', 'devices.id', 'device_sessions.device_id')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .select([
        'device_sessions.expires_at',
        'devices.id as device_id',
        'devices.status',
        'devices.user_id',
        'users.email as user_email',
        'devices.quarantined',
      ])
      .where('device_sessions.token_hash', '=', hash)
      .executeTakeFirst();
  }

  async purgeExpired(now: string): Promise<void> {
    await this.db.deleteFrom('device_challenges').where('expires_at', '<', now).execute();
    await this.db.deleteFrom('device_sessions').where('expires_at', '<', now).execute();
  }
}
