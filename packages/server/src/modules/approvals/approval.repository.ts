import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type ApprovalRow = Database['command_approvals'];

const WIPE_TYPES = ['wipe-work', 'wipe'];

/** Approval requests, and the device look-ups a bulk command needs. */
export class ApprovalRepository {
  constructor(private readonly db: Db) {}

  async insert(row: ApprovalRow): Promise<void> {
    await this.db.insertInto('command_approvals').values(row).execute();
  }

  byId(id: string): Promise<ApprovalRow | undefined> {
    return this.db.selectFrom('command_approvals').selectAll().where('id', '=', id).executeTakeFirst();
  }

  list(state?: string): Promise<ApprovalRow[]> {
    let q = this.db.selectFrom('command_approvals').selectAll();
    if (state) q = q.where('state', '=', state);
    return q.orderBy('created_at', 'desc').limit(500).execute();
  }

  /**
   * Moves a request out of `from` only if it is still there, so two administrators (or two nodes)
   * deciding at once cannot both win. True when this call made the change.
   */
  async transition(id: string, from: string[], patch: Partial<ApprovalRow>): Promise<boolean> {
    const res = await this.db
      .updateTable('command_approvals')
      .set(patch)
      .where('id', '=', id)
      .where('state', 'in', from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async setCommandIds(id: string, commandIds: string[]): Promise<void> {
    await this.db
      .updateTable('command_approvals')
      .set({ command_ids: JSON.stringify(commandIds) })
      .where('id', '=', id)
      .execute();
  }

  /** Pending requests whose time ran out. */
  overdue(nowIso: string): Promise<ApprovalRow[]> {
    return this.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('state', '=', 'pending_approval')
      .where('expires_at', '<=', nowIso)
      .execute();
  }

  /** Approved requests whose cancellable delay has elapsed. */
  due(nowIso: string): Promise<ApprovalRow[]> {
    return this.db
      .selectFrom('command_approvals')
      .selectAll()
      .where('state', '=', 'approved')
      .where('run_after', '<=', nowIso)
      .execute();
  }

  /** Active devices among `ids`. */
  async activeByIds(ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('devices')
      .select('id')
      .where('id', 'in', ids)
      .where('status', '=', 'active')
      .execute();
    return rows.map((r) => r.id);
  }

  /** The user's active devices, or null when no such user exists. */
  async activeByUserEmail(email: string): Promise<string[] | null> {
    const user = await this.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
    if (!user) return null;
    const rows = await this.db
      .selectFrom('devices')
      .select('id')
      .where('user_id', '=', user.id)
      .where('status', '=', 'active')
      .orderBy('activated_at')
      .execute();
    return rows.map((r) => r.id);
  }

  /** The active devices of the group's members, or null when no such group exists. */
  async activeByGroupName(name: string): Promise<string[] | null> {
    const group = await this.db.selectFrom('groups').select('id').where('name', '=', name).executeTakeFirst();
    if (!group) return null;
    const rows = await this.db
      .selectFrom('devices')
      .innerJoin('user_groups', 'user_groups.user_id', 'devices.user_id')
      .select('devices.id')
      .where('user_groups.group_id', '=', group.id)
      .where('devices.status', '=', 'active')
      .orderBy('devices.activated_at')
      .execute();
    return rows.map((r) => r.id);
  }

  /**
   * Devices an administrator has wiped, or asked to wipe, since `sinceIso`: wipe commands already
   * sent plus wipes still waiting for approval or their delay.
   */
  async wipesSince(adminId: string, sinceIso: string): Promise<number> {
    const sent = await this.db
      .selectFrom('device_commands')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where('requested_by', '=', adminId)
      .where('type', 'in', WIPE_TYPES)
      .where('created_at', '>=', sinceIso)
      .executeTakeFirstOrThrow();
    const waiting = await this.db
      .selectFrom('command_approvals')
      .select('device_ids')
      .where('requested_by', '=', adminId)
      .where('type', 'in', WIPE_TYPES)
      .where('state', 'in', ['pending_approval', 'approved'])
      .where('created_at', '>=', sinceIso)
      .execute();
    return Number(sent.n) + waiting.reduce((n, r) => n + (JSON.parse(r.device_ids) as string[]).length, 0);
  }
}
