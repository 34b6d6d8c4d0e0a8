import { type Expression, type SqlBool, sql } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type UserRow = Database['users'];
export type GroupRow = Database['groups'];

/** `column LIKE %text%` with `%`, `_` and `!` in `text` taken literally (same SQL on SQLite and PostgreSQL). */
function contains(column: Expression<unknown>, text: string): Expression<SqlBool> {
  const pattern = `%${text.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
  return sql<SqlBool>`${column} like ${pattern} escape '!'`;
}

export class UserRepository {
  constructor(private readonly db: Db) {}

  byId(id: string) {
    return this.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  }
  byEmail(email: string) {
    return this.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  }

  async page(opts: {
    q?: string | undefined;
    group?: string | undefined;
    withoutDevice?: boolean | undefined;
    limit: number;
    offset: number;
  }) {
    let query = this.db.selectFrom('users');
    if (opts.q) {
      const q = opts.q;
      query = query.where((eb) =>
        eb.or([contains(eb.ref('users.email'), q), contains(eb.fn('lower', ['users.name']), q)]),
      );
    }
    if (opts.group) {
      const group = opts.group;
      query = query.where((eb) =>
        eb.exists(
          eb
            .selectFrom('user_groups')
            .innerJoin('groups', 'groups.id', 'user_groups.group_id')
            .select('user_groups.user_id')
            .whereRef('user_groups.user_id', '=', 'users.id')
            .where('groups.name', '=', group),
        ),
      );
    }
    if (opts.withoutDevice !== undefined) {
      const without = opts.withoutDevice;
      query = query.where((eb) => {
        const has = eb.exists(
          eb
            .selectFrom('devices')
            .select('devices.id')
            .whereRef('devices.user_id', '=', 'users.id')
            .where('devices.status', '=', 'active'),
        );
        return without ? eb.not(has) : has;
      });
    }
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll('users')
      .orderBy('users.email')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
  }

  async groupNames(userIds: string[]): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    if (userIds.length === 0) return map;
    const rows = await this.db
      .selectFrom('user_groups')
      .innerJoin('groups', 'groups.id', 'user_groups.group_id')
      .select(['user_groups.user_id', 'groups.name'])
      .where('user_groups.user_id', 'in', userIds)
      .orderBy('groups.name')
      .execute();
    for (const r of rows) map.set(r.user_id, [...(map.get(r.user_id) ?? []), r.name]);
    return map;
  }

  async deviceCounts(userIds: string[]): Promise<Map<string, number>> {
    const map = new Map<string, number>();
    if (userIds.length === 0) return map;
    const rows = await this.db
      .selectFrom('devices')
      .select(['user_id', (eb) => eb.fn.countAll<number>().as('n')])
      .where('user_id', 'in', userIds)
      .where('status', '=', 'active')
      .groupBy('user_id')
      .execute();
    for (const r of rows) map.set(r.user_id, Number(r.n));
    return map;
  }

  /** Inserts or updates a user and replaces its group memberships, in one transaction. */
  async save(row: UserRow, groupIds: string[] | undefined, isNew: boolean): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (isNew) await trx.insertInto('users').values(row).execute();
      else
        await trx
          .updateTable('users')
          .set({ email: row.email, name: row.name, updated_at: row.updated_at })
          .where('id', '=', row.id)
          .execute();
      if (groupIds) {
        await trx.deleteFrom('user_groups').where('user_id', '=', row.id).execute();
        if (groupIds.length)
          await trx
            .insertInto('user_groups')
            .values(groupIds.map((group_id) => ({ user_id: row.id, group_id })))
            .execute();
      }
    });
  }

  /** Deletes a user with its memberships and unused activation passwords; devices must be revoked first. */
  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('user_groups').where('user_id', '=', id).execute();
      await trx.deleteFrom('activations').where('user_id', '=', id).execute();
      await trx.deleteFrom('users').where('id', '=', id).execute();
    });
  }

  async activeDeviceCount(userId: string): Promise<number> {
    return (await this.deviceCounts([userId])).get(userId) ?? 0;
  }

  async hasAnyDevice(userId: string): Promise<boolean> {
    return (
      (await this.db
        .selectFrom('devices')
        .select('id')
        .where('user_id', '=', userId)
        .limit(1)
        .executeTakeFirst()) !== undefined
    );
  }

  // Groups

  groupById(id: string) {
    return this.db.selectFrom('groups').selectAll().where('id', '=', id).executeTakeFirst();
  }
  groupsByNames(names: string[]) {
    if (names.length === 0) return Promise.resolve([] as GroupRow[]);
    return this.db.selectFrom('groups').selectAll().where('name', 'in', names).execute();
  }
  async groupPage(opts: { q?: string | undefined; limit: number; offset: number }) {
    let query = this.db.selectFrom('groups');
    const q = opts.q;
    if (q) query = query.where((eb) => contains(eb.fn('lower', ['groups.name']), q));
    const total = await query.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    const rows = await query
      .selectAll('groups')
      .select((eb) =>
        eb
          .selectFrom('user_groups')
          .select((e) => e.fn.countAll<number>().as('c'))
          .whereRef('user_groups.group_id', '=', 'groups.id')
          .as('member_count'),
      )
      .orderBy('groups.name')
      .limit(opts.limit)
      .offset(opts.offset)
      .execute();
    return { rows, total: Number(total.n) };
  }
  async memberCount(groupId: string): Promise<number> {
    const r = await this.db
      .selectFrom('user_groups')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('group_id', '=', groupId)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
  async insertGroup(row: GroupRow): Promise<void> {
    await this.db.insertInto('groups').values(row).execute();
  }
  async updateGroup(id: string, patch: Partial<GroupRow>): Promise<void> {
    await this.db.updateTable('groups').set(patch).where('id', '=', id).execute();
  }
  async deleteGroup(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('user_groups').where('group_id', '=', id).execute();
      await trx.deleteFrom('groups').where('id', '=', id).execute();
    });
  }
}
