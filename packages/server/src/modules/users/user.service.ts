import { parse } from 'csv-parse/sync';
import { type User, UserCreateSchema, type UserImportResult } from '@enclave/protocol';
import { isUniqueViolation } from '../../platform/db/database.js';
import { AppError, notFound } from '../../platform/http/app-error.js';
import type { Bus } from '../../platform/bus/bus.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { UserRepository, UserRow } from './user.repository.js';

const MAX_IMPORT_ROWS = 10_000;

/** One csv-parse record with `info: true` (only the counters we read). */
interface CsvRecord {
  record: string[];
  info: { records: number; empty_lines: number };
}

/** Users (the people whose devices Enclave manages) and their group memberships. */
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly audit: AuditService,
    private readonly bus?: Bus,
  ) {}

  async list(q: {
    q?: string | undefined;
    group?: string | undefined;
    withoutDevice?: boolean | undefined;
    limit: number;
    offset: number;
  }) {
    const { rows, total } = await this.users.page(q);
    return { items: await this.present(rows), total, limit: q.limit, offset: q.offset };
  }

  async get(id: string): Promise<User> {
    const row = await this.users.byId(id);
    if (!row) throw notFound('user');
    return (await this.present([row]))[0] as User;
  }

  async byEmail(email: string): Promise<UserRow> {
    const row = await this.users.byEmail(email);
    if (!row) throw new AppError(404, 'user_not_found', `no user with email ${email}: add the user first`);
    return row;
  }

  async create(
    input: { email: string; name: string; groups?: string[] | undefined },
    by: AdminPrincipal,
    ip: string,
    via = 'api',
  ): Promise<User> {
    const groupIds = await this.resolveGroups(input.groups ?? []);
    const now = new Date().toISOString();
    const row: UserRow = {
      id: crypto.randomUUID(),
      email: input.email,
      name: input.name,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.users.save(row, groupIds, true);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError(409, 'email_taken', `a user with email ${input.email} already exists`);
      throw err;
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'user.created',
      target: row.email,
      details: { groups: input.groups ?? [], via },
      ip,
    });
    const user = await this.get(row.id);
    this.bus?.publish('webhook.event', {
      type: 'user.created',
      data: { userId: user.id, email: user.email, name: user.name, groups: user.groups, via },
    });
    return user;
  }

  async update(
    id: string,
    patch: { email?: string | undefined; name?: string | undefined; groups?: string[] | undefined },
    by: AdminPrincipal,
    ip: string,
  ) {
    const row = await this.users.byId(id);
    if (!row) throw notFound('user');
    const groupIds = patch.groups ? await this.resolveGroups(patch.groups) : undefined;
    const next: UserRow = {
      ...row,
      email: patch.email ?? row.email,
      name: patch.name ?? row.name,
      updated_at: new Date().toISOString(),
    };
    try {
      await this.users.save(next, groupIds, false);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError(409, 'email_taken', `a user with email ${next.email} already exists`);
      throw err;
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'user.updated',
      target: next.email,
      details: { fields: Object.keys(patch) },
      ip,
    });
    return this.get(id);
  }

  async remove(id: string, by: AdminPrincipal, ip: string) {
    const row = await this.users.byId(id);
    if (!row) throw notFound('user');
    if (await this.users.hasAnyDevice(id)) {
      throw new AppError(
        409,
        'user_has_devices',
        'this user has devices on record: revoke them first (device history is kept)',
      );
    }
    await this.users.delete(id);
    await this.audit.record({ actor: actorOf(by), action: 'user.deleted', target: row.email, ip });
    return { ok: true as const };
  }

  /** CSV import (`email,name,groups` with a header row; groups separated by `;`): good rows land, bad rows are reported. */
  async importCsv(csv: string, by: AdminPrincipal, ip: string): Promise<UserImportResult> {
    let records: CsvRecord[];
    try {
      const rows: unknown = parse(csv, {
        relax_column_count: true,
        skip_empty_lines: true,
        trim: true,
        bom: true,
        info: true,
      });
      records = rows as CsvRecord[]; // without `columns` and with `info`, csv-parse yields { record: string[], info } per record
    } catch (err) {
      throw new AppError(
        400,
        'validation_failed',
        `the CSV cannot be read: ${(err as Error).message.split('\n')[0] ?? ''}`,
      );
    }
    const header = (records.shift()?.record ?? []).map((h) => h.toLowerCase());
    const col = (name: string) => header.indexOf(name);
    if (col('email') < 0 || col('name') < 0)
      throw new AppError(
        400,
        'validation_failed',
        'the CSV needs a header row with at least the columns email,name (and optionally groups)',
      );
    if (records.length > MAX_IMPORT_ROWS)
      throw new AppError(400, 'validation_failed', `at most ${MAX_IMPORT_ROWS} rows per import`);
    const result: UserImportResult = { imported: 0, failed: 0, errors: [] };
    for (const { record: rec, info } of records) {
      // 1-based, header included, blank lines counted: the row a spreadsheet shows (a quoted
      // multi-line cell stays one row there, so this is not the text line number).
      const rowNo = info.records + info.empty_lines;
      const groupsCell = col('groups') >= 0 ? (rec[col('groups')] ?? '') : '';
      const parsed = UserCreateSchema.safeParse({
        email: rec[col('email')] ?? '',
        name: rec[col('name')] ?? '',
        groups: groupsCell
          ? groupsCell
              .split(';')
              .map((g) => g.trim())
              .filter(Boolean)
          : [],
      });
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        result.errors.push({
          row: rowNo,
          email: rec[col('email')],
          code: 'validation_failed',
          message: `${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
        });
        continue;
      }
      try {
        await this.create(parsed.data, by, ip, 'csv');
        result.imported++;
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        result.errors.push({ row: rowNo, email: parsed.data.email, code: err.code, message: err.message });
      }
    }
    result.failed = result.errors.length;
    await this.audit.record({
      actor: actorOf(by),
      action: 'user.import',
      details: { imported: result.imported, failed: result.failed },
      ip,
    });
    return result;
  }

  private async resolveGroups(names: string[]): Promise<string[]> {
    const unique = [...new Set(names)];
    const found = await this.users.groupsByNames(unique);
    const missing = unique.filter((n) => !found.some((g) => g.name === n));
    if (missing.length)
      throw new AppError(400, 'group_not_found', `no such group: ${missing.join(', ')} — create it first`);
    return found.map((g) => g.id);
  }

  private async present(rows: UserRow[]): Promise<User[]> {
    const ids = rows.map((r) => r.id);
    const [groups, devices] = await Promise.all([this.users.groupNames(ids), this.users.deviceCounts(ids)]);
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      groups: groups.get(r.id) ?? [],
      deviceCount: devices.get(r.id) ?? 0,
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }));
  }
}
