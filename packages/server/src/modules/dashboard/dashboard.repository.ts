import { sql } from 'kysely';
import { ACTIVATION_MAX_ATTEMPTS, COMPLIANCE_RULES, type ComplianceRule } from '@enclave/protocol';
import type { Db } from '../../platform/db/database.js';

const n = (v: unknown): number => Number(v ?? 0);

/**
 * The dashboard's aggregate queries. Each one scans a table once with GROUP BY or conditional
 * sums, so the cost grows with the table, never with a loop in JavaScript; the same SQL runs on
 * SQLite and PostgreSQL (times are ISO strings, compared as text).
 */
export class DashboardRepository {
  constructor(private readonly db: Db) {}

  /** Users, and users without an active device. */
  async users() {
    const r = await this.db
      .selectFrom('users')
      .select((eb) => [
        eb.fn.countAll<number>().as('total'),
        sql<number>`coalesce(sum(case when not exists (select 1 from devices d where d.user_id = users.id and d.status = 'active') then 1 else 0 end), 0)`.as(
          'without_device',
        ),
      ])
      .executeTakeFirstOrThrow();
    return { total: n(r.total), withoutDevice: n(r.without_device) };
  }

  /** Devices grouped by status, compliance and platform, with the certificates expiring before `certBefore`. */
  async deviceGroups(certBefore: string) {
    const rows = await this.db
      .selectFrom('devices')
      .select((eb) => [
        'status',
        'compliance',
        'platform',
        eb.fn.countAll<number>().as('n'),
        sql<number>`sum(case when certificate_not_after < ${certBefore} then 1 else 0 end)`.as('expiring'),
      ])
      .groupBy(['status', 'compliance', 'platform'])
      .execute();
    return rows.map((r) => ({
      status: r.status,
      compliance: r.compliance ?? 'unknown',
      platform: r.platform,
      count: n(r.n),
      expiring: n(r.expiring),
    }));
  }

  /** Active devices per reported (platform, OS version), largest first. */
  async osVersions(limit: number) {
    const rows = await this.db
      .selectFrom('device_postures as p')
      .innerJoin('devices as d', 'd.id', 'p.device_id')
      .where('d.status', '=', 'active')
      .select((eb) => ['p.platform', 'p.os_version', eb.fn.countAll<number>().as('n')])
      .groupBy(['p.platform', 'p.os_version'])
      .orderBy('n', 'desc')
      .orderBy('p.platform')
      .orderBy('p.os_version')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ platform: r.platform, osVersion: r.os_version, count: n(r.n) }));
  }

  /**
   * Active devices breaking each rule. Reasons are stored as compact JSON (`JSON.stringify`), in
   * which `"code":"<rule>"` can only be the key of a reason (quotes inside strings are escaped),
   * so one LIKE per rule in a single scan counts them on both databases.
   */
  async reasons(): Promise<{ rule: ComplianceRule; count: number }[]> {
    const r = (await this.db
      .selectFrom('devices')
      .where('status', '=', 'active')
      .where('compliance_reasons', '<>', '[]')
      .select(
        COMPLIANCE_RULES.map((rule, i) =>
          sql<number>`sum(case when compliance_reasons like ${`%"code":"${rule}"%`} then 1 else 0 end)`.as(
            `r${i}`,
          ),
        ),
      )
      .executeTakeFirst()) as Record<string, unknown> | undefined;
    return COMPLIANCE_RULES.map((rule, i) => ({ rule, count: n(r?.[`r${i}`]) }));
  }

  /** Devices activated per UTC day since `from` (an ISO date-time at midnight). */
  async activationsPerDay(from: string) {
    const rows = await this.db
      .selectFrom('devices')
      .where('activated_at', '>=', from)
      .select((eb) => [sql<string>`substr(activated_at, 1, 10)`.as('day'), eb.fn.countAll<number>().as('n')])
      .groupBy(sql`substr(activated_at, 1, 10)`)
      .execute();
    return new Map(rows.map((r) => [r.day, n(r.n)]));
  }

  async commands(failedSince: string) {
    const r = await this.db
      .selectFrom('device_commands')
      .where('state', 'in', ['queued', 'delivered', 'acknowledged', 'failed'])
      .select([
        sql<number>`sum(case when state <> 'failed' then 1 else 0 end)`.as('pending'),
        sql<number>`sum(case when state = 'failed' and updated_at >= ${failedSince} then 1 else 0 end)`.as(
          'failed',
        ),
      ])
      .executeTakeFirst();
    const a = await this.db
      .selectFrom('command_approvals')
      .where('state', '=', 'pending_approval')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return { pending: n(r?.pending), failed24h: n(r?.failed), awaitingApproval: n(a.n) };
  }

  /** Live activation passwords, and those of them expiring before `soon`. */
  async activations(now: string, soon: string) {
    const r = await this.db
      .selectFrom('activations')
      .where('used_at', 'is', null)
      .where('failed_attempts', '<', ACTIVATION_MAX_ATTEMPTS)
      .where('expires_at', '>', now)
      .select((eb) => [
        eb.fn.countAll<number>().as('live'),
        sql<number>`sum(case when expires_at <= ${soon} then 1 else 0 end)`.as('soon'),
      ])
      .executeTakeFirstOrThrow();
    return { live: n(r.live), expiringSoon: n(r.soon) };
  }

  /** Application messages accepted since `since` (commits and welcomes are MLS housekeeping). */
  async messages(since: string) {
    const r = await this.db
      .selectFrom('messages')
      .where('created_at', '>=', since)
      .where('kind', '=', 'application')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return n(r.n);
  }
}
