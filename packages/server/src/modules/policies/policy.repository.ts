import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type PolicyRow = Database['policies'];

/** A group policy as it reaches one user: through which group, at which rank. */
export interface GroupRule {
  userId: string;
  groupId: string;
  groupName: string;
  rank: number;
  policyId: string;
}

/** Policies, their user and group assignments, and the membership facts resolution needs. */
export class PolicyRepository {
  constructor(private readonly db: Db) {}

  list() {
    return this.db.selectFrom('policies').selectAll().orderBy('is_default', 'desc').orderBy('name').execute();
  }
  byId(id: string) {
    return this.db.selectFrom('policies').selectAll().where('id', '=', id).executeTakeFirst();
  }
  byIds(ids: string[]) {
    if (ids.length === 0) return Promise.resolve([] as PolicyRow[]);
    return this.db.selectFrom('policies').selectAll().where('id', 'in', ids).execute();
  }
  defaultPolicy() {
    return this.db.selectFrom('policies').selectAll().where('is_default', '=', 1).executeTakeFirstOrThrow();
  }
  async insert(row: PolicyRow): Promise<void> {
    await this.db.insertInto('policies').values(row).execute();
  }
  async update(
    id: string,
    patch: Pick<PolicyRow, 'name' | 'description' | 'document' | 'version' | 'updated_at'>,
  ): Promise<void> {
    await this.db.updateTable('policies').set(patch).where('id', '=', id).execute();
  }
  /** Deletes a policy with its assignments; its users fall back to their next rule. */
  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('policy_user_assignments').where('policy_id', '=', id).execute();
      await trx.deleteFrom('policy_group_assignments').where('policy_id', '=', id).execute();
      await trx.deleteFrom('policies').where('id', '=', id).execute();
    });
  }

  // Assignments

  userAssignments(policyIds: string[]) {
    if (policyIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('policy_user_assignments')
      .innerJoin('users', 'users.id', 'policy_user_assignments.user_id')
      .select([
        'policy_user_assignments.policy_id',
        'policy_user_assignments.user_id',
        'policy_user_assignments.assigned_at',
        'users.email',
      ])
      .where('policy_user_assignments.policy_id', 'in', policyIds)
      .orderBy('users.email')
      .execute();
  }
  groupAssignments(policyIds: string[]) {
    if (policyIds.length === 0) return Promise.resolve([]);
    return this.db
      .selectFrom('policy_group_assignments')
      .innerJoin('groups', 'groups.id', 'policy_group_assignments.group_id')
      .select([
        'policy_group_assignments.policy_id',
        'policy_group_assignments.group_id',
        'policy_group_assignments.rank',
        'policy_group_assignments.assigned_at',
        'groups.name',
      ])
      .where('policy_group_assignments.policy_id', 'in', policyIds)
      .orderBy('policy_group_assignments.rank', 'desc')
      .orderBy('groups.name')
      .execute();
  }
  userAssignment(userId: string) {
    return this.db
      .selectFrom('policy_user_assignments')
      .selectAll()
      .where('user_id', '=', userId)
      .executeTakeFirst();
  }
  groupAssignment(groupId: string) {
    return this.db
      .selectFrom('policy_group_assignments')
      .selectAll()
      .where('group_id', '=', groupId)
      .executeTakeFirst();
  }
  /** A user holds at most one direct policy: this one replaces any other. */
  async assignUser(userId: string, policyId: string, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('policy_user_assignments').where('user_id', '=', userId).execute();
      await trx
        .insertInto('policy_user_assignments')
        .values({ user_id: userId, policy_id: policyId, assigned_at: at })
        .execute();
    });
  }
  /** A group carries at most one policy: this one (with its rank) replaces any other. */
  async assignGroup(groupId: string, policyId: string, rank: number, at: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('policy_group_assignments').where('group_id', '=', groupId).execute();
      await trx
        .insertInto('policy_group_assignments')
        .values({ group_id: groupId, policy_id: policyId, rank, assigned_at: at })
        .execute();
    });
  }
  async unassignUser(userId: string, policyId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('policy_user_assignments')
      .where('user_id', '=', userId)
      .where('policy_id', '=', policyId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }
  async unassignGroup(groupId: string, policyId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('policy_group_assignments')
      .where('group_id', '=', groupId)
      .where('policy_id', '=', policyId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  // Resolution inputs

  /** Direct assignments of these users (or of everyone): user id → policy id. */
  async directRules(userIds: string[] | 'all'): Promise<Map<string, string>> {
    let q = this.db.selectFrom('policy_user_assignments').select(['user_id', 'policy_id']);
    if (userIds !== 'all') {
      if (userIds.length === 0) return new Map();
      q = q.where('user_id', 'in', userIds);
    }
    return new Map((await q.execute()).map((r) => [r.user_id, r.policy_id]));
  }
  /** Group policies reaching these users (or everyone) through their memberships. */
  async groupRules(userIds: string[] | 'all'): Promise<GroupRule[]> {
    let q = this.db
      .selectFrom('user_groups')
      .innerJoin('policy_group_assignments', 'policy_group_assignments.group_id', 'user_groups.group_id')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .select([
        'user_groups.user_id as userId',
        'groups.id as groupId',
        'groups.name as groupName',
        'policy_group_assignments.rank as rank',
        'policy_group_assignments.policy_id as policyId',
      ]);
    if (userIds !== 'all') {
      if (userIds.length === 0) return [];
      q = q.where('user_groups.user_id', 'in', userIds);
    }
    return (await q.execute()).map((r) => ({ ...r, rank: Number(r.rank) }));
  }
  /** Users a policy may reach (directly or through a group); the default reaches everyone. */
  async candidateUserIds(policyId: string): Promise<string[]> {
    const direct = await this.db
      .selectFrom('policy_user_assignments')
      .select('user_id')
      .where('policy_id', '=', policyId)
      .execute();
    const viaGroups = await this.db
      .selectFrom('user_groups')
      .innerJoin('policy_group_assignments', 'policy_group_assignments.group_id', 'user_groups.group_id')
      .select('user_groups.user_id')
      .where('policy_group_assignments.policy_id', '=', policyId)
      .execute();
    return [...new Set([...direct, ...viaGroups].map((r) => r.user_id))];
  }
  groupMemberIds(groupId: string): Promise<string[]> {
    return this.db
      .selectFrom('user_groups')
      .select('user_id')
      .where('group_id', '=', groupId)
      .execute()
      .then((rows) => rows.map((r) => r.user_id));
  }
  usersByIds(ids: string[] | 'all') {
    let q = this.db.selectFrom('users').select(['id', 'email', 'name']).orderBy('email');
    if (ids !== 'all') {
      if (ids.length === 0) return Promise.resolve([]);
      q = q.where('id', 'in', ids);
    }
    return q.execute();
  }
  /** The user a device belongs to (undefined for an unknown device). */
  async deviceUserId(deviceId: string): Promise<string | undefined> {
    const r = await this.db
      .selectFrom('devices')
      .select('user_id')
      .where('id', '=', deviceId)
      .executeTakeFirst();
    return r?.user_id;
  }
}
