import type { Group } from '@enclave/protocol';
import { isUniqueViolation } from '../../platform/db/database.js';
import { AppError, notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { GroupRow, UserRepository } from './user.repository.js';

export class GroupService {
  constructor(
    private readonly repo: UserRepository,
    private readonly audit: AuditService,
  ) {}

  async list(q: { q?: string | undefined; limit: number; offset: number }) {
    const { rows, total } = await this.repo.groupPage(q);
    return {
      items: rows.map((r) => present(r, Number(r.member_count ?? 0))),
      total,
      limit: q.limit,
      offset: q.offset,
    };
  }

  async get(id: string): Promise<Group> {
    const row = await this.repo.groupById(id);
    if (!row) throw notFound('group');
    return present(row, await this.repo.memberCount(id));
  }

  async create(input: { name: string; description: string }, by: AdminPrincipal, ip: string) {
    const row: GroupRow = {
      id: crypto.randomUUID(),
      name: input.name,
      description: input.description,
      created_at: new Date().toISOString(),
    };
    try {
      await this.repo.insertGroup(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError(409, 'group_name_taken', `a group named ${input.name} already exists`);
      throw err;
    }
    await this.audit.record({ actor: actorOf(by), action: 'group.created', target: row.name, ip });
    return present(row, 0);
  }

  async update(
    id: string,
    patch: { name?: string | undefined; description?: string | undefined },
    by: AdminPrincipal,
    ip: string,
  ) {
    const row = await this.repo.groupById(id);
    if (!row) throw notFound('group');
    const next = { name: patch.name ?? row.name, description: patch.description ?? row.description };
    try {
      await this.repo.updateGroup(id, next);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError(409, 'group_name_taken', `a group named ${next.name} already exists`);
      throw err;
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'group.updated',
      target: next.name,
      details: { from: row.name },
      ip,
    });
    return this.get(id);
  }

  async remove(id: string, by: AdminPrincipal, ip: string) {
    const row = await this.repo.groupById(id);
    if (!row) throw notFound('group');
    await this.repo.deleteGroup(id);
    await this.audit.record({ actor: actorOf(by), action: 'group.deleted', target: row.name, ip });
    return { ok: true as const };
  }
}

function present(row: GroupRow, memberCount: number): Group {
  return { id: row.id, name: row.name, description: row.description, memberCount, createdAt: row.created_at };
}
