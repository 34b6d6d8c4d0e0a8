import {
  type DevicePolicy,
  type EffectivePolicy,
  type Policy,
  type PolicyAssign,
  type PolicyDocument,
  type PolicyDocumentPatch,
  PolicyDocumentSchema,
} from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import { isUniqueViolation } from '../../platform/db/database.js';
import { AppError } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { UserRepository } from '../users/index.js';
import type { PolicyRepository, PolicyRow } from './policy.repository.js';
import { resolvePolicy, type Resolution } from './policy.resolve.js';

const policyNotFound = () => new AppError(404, 'not_found', 'policy not found: see GET /api/v1/policies');

/** Parses a stored document; settings added since it was written take their defaults. */
function documentOf(row: PolicyRow): PolicyDocument {
  return PolicyDocumentSchema.parse(JSON.parse(row.document));
}

/** IT policies: CRUD with versions, assignment to users and ranked groups, and effective-policy resolution. */
export class PolicyService {
  constructor(
    private readonly repo: PolicyRepository,
    private readonly users: UserRepository,
    private readonly audit: AuditService,
    private readonly bus: Bus,
  ) {}

  async list(): Promise<{ items: Policy[] }> {
    return { items: await this.present(await this.repo.list()) };
  }

  async get(id: string): Promise<Policy> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    return (await this.present([row]))[0] as Policy;
  }

  async create(
    input: { name: string; description: string; document: PolicyDocument },
    by: AdminPrincipal,
    ip: string,
  ): Promise<Policy> {
    const now = new Date().toISOString();
    const row: PolicyRow = {
      id: crypto.randomUUID(),
      name: input.name,
      description: input.description,
      version: 1,
      document: JSON.stringify(input.document),
      is_default: 0,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.repo.insert(row);
    } catch (err) {
      throw this.nameTaken(err, input.name);
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'policy.created',
      target: row.name,
      details: { policyId: row.id, version: 1 },
      ip,
    });
    return this.get(row.id);
  }

  /** Applies a patch; the merged document is validated whole and every update bumps `version`. */
  async update(
    id: string,
    patch: {
      name?: string | undefined;
      description?: string | undefined;
      document?: PolicyDocumentPatch | undefined;
    },
    by: AdminPrincipal,
    ip: string,
  ): Promise<Policy> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    const current = documentOf(row);
    const parsed = PolicyDocumentSchema.safeParse({ ...current, ...patch.document });
    if (!parsed.success)
      throw new AppError(400, 'validation_failed', 'the policy document is not valid', {
        details: parsed.error.issues.map((i) => ({
          path: ['body', 'document', ...i.path.map(String)].join('.'),
          message: i.message,
        })),
      });
    const changed = Object.keys(patch.document ?? {}).filter(
      (k) =>
        JSON.stringify(current[k as keyof PolicyDocument]) !==
        JSON.stringify(parsed.data[k as keyof PolicyDocument]),
    );
    const next = {
      name: patch.name ?? row.name,
      description: patch.description ?? row.description,
      document: JSON.stringify(parsed.data),
      version: row.version + 1,
      updated_at: new Date().toISOString(),
    };
    try {
      await this.repo.update(id, next);
    } catch (err) {
      throw this.nameTaken(err, next.name);
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'policy.updated',
      target: next.name,
      details: {
        policyId: id,
        version: next.version,
        changed,
        ...(next.name !== row.name ? { from: row.name } : {}),
      },
      ip,
    });
    await this.publishFor(row);
    return this.get(id);
  }

  async remove(id: string, by: AdminPrincipal, ip: string): Promise<{ ok: true }> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    if (row.is_default)
      throw new AppError(
        409,
        'policy_is_default',
        'the default policy cannot be deleted; change its settings instead',
      );
    const affected = await this.affectedUserIds(row);
    await this.repo.delete(id);
    await this.audit.record({
      actor: actorOf(by),
      action: 'policy.deleted',
      target: row.name,
      details: { policyId: id, version: row.version, affectedUsers: affected.length },
      ip,
    });
    this.publish(affected);
    return { ok: true as const };
  }

  /** Assigns directly to a user (replacing their direct policy) or to a group with a rank. */
  async assign(id: string, input: PolicyAssign, by: AdminPrincipal, ip: string): Promise<Policy> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    const now = new Date().toISOString();
    if ('userId' in input) {
      const user = await this.users.byId(input.userId);
      if (!user) throw new AppError(404, 'user_not_found', 'no such user: see GET /api/v1/users');
      const previous = await this.repo.userAssignment(user.id);
      await this.repo.assignUser(user.id, id, now);
      await this.audit.record({
        actor: actorOf(by),
        action: 'policy.assigned',
        target: row.name,
        details: { policyId: id, user: user.email, ...(previous ? { replaced: previous.policy_id } : {}) },
        ip,
      });
      this.publish([user.id]);
    } else {
      const group = await this.users.groupById(input.groupId);
      if (!group) throw new AppError(404, 'group_not_found', 'no such group: see GET /api/v1/groups');
      const previous = await this.repo.groupAssignment(group.id);
      await this.repo.assignGroup(group.id, id, input.rank, now);
      await this.audit.record({
        actor: actorOf(by),
        action: 'policy.assigned',
        target: row.name,
        details: {
          policyId: id,
          group: group.name,
          rank: input.rank,
          ...(previous ? { replaced: previous.policy_id, previousRank: previous.rank } : {}),
        },
        ip,
      });
      this.publish(await this.repo.groupMemberIds(group.id));
    }
    return this.get(id);
  }

  async unassignUser(id: string, userId: string, by: AdminPrincipal, ip: string): Promise<Policy> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    const user = await this.users.byId(userId);
    if (!user || !(await this.repo.unassignUser(userId, id)))
      throw new AppError(404, 'not_found', 'this policy is not assigned to that user');
    await this.audit.record({
      actor: actorOf(by),
      action: 'policy.unassigned',
      target: row.name,
      details: { policyId: id, user: user.email },
      ip,
    });
    this.publish([userId]);
    return this.get(id);
  }

  async unassignGroup(id: string, groupId: string, by: AdminPrincipal, ip: string): Promise<Policy> {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    const group = await this.users.groupById(groupId);
    if (!group || !(await this.repo.unassignGroup(groupId, id)))
      throw new AppError(404, 'not_found', 'this policy is not assigned to that group');
    await this.audit.record({
      actor: actorOf(by),
      action: 'policy.unassigned',
      target: row.name,
      details: { policyId: id, group: group.name },
      ip,
    });
    this.publish(await this.repo.groupMemberIds(groupId));
    return this.get(id);
  }

  /** The effective policy of a user, or of the user a device belongs to, with why it won. */
  async effective(q: {
    userId?: string | undefined;
    deviceId?: string | undefined;
  }): Promise<EffectivePolicy> {
    let userId = q.userId;
    if (q.deviceId !== undefined) {
      userId = await this.repo.deviceUserId(q.deviceId);
      if (!userId) throw new AppError(404, 'device_not_found', 'no such device: see GET /api/v1/devices');
    }
    const user = userId === undefined ? undefined : await this.users.byId(userId);
    if (!user) throw new AppError(404, 'user_not_found', 'no such user: see GET /api/v1/users');
    const r = await this.resolveOne(user.id, user.email);
    return {
      userId: user.id,
      policy: await this.get(r.policyId),
      source: r.source,
      explanation: r.explanation,
    };
  }

  /** What a device is told about its policy at check-in. */
  async forDevice(userId: string, userEmail: string): Promise<DevicePolicy> {
    const r = await this.resolveOne(userId, userEmail);
    const row = await this.repo.byId(r.policyId);
    if (!row) throw policyNotFound(); // only if deleted between the two reads
    return { id: row.id, name: row.name, version: row.version, document: documentOf(row), source: r.source };
  }

  /** Users whose effective policy is this one (a preview before changing or deleting it). */
  async affected(id: string) {
    const row = await this.repo.byId(id);
    if (!row) throw policyNotFound();
    const scope = row.is_default ? ('all' as const) : await this.repo.candidateUserIds(id);
    const users = await this.repo.usersByIds(scope);
    const resolved = await this.resolveMany(
      users.map((u) => ({ id: u.id, email: u.email })),
      scope,
    );
    const items = users.flatMap((u) => {
      const r = resolved.get(u.id);
      return r && r.policyId === id ? [{ userId: u.id, email: u.email, name: u.name, source: r.source }] : [];
    });
    return { items, total: items.length };
  }

  // Internals

  private async resolveOne(userId: string, email: string): Promise<Resolution> {
    return (await this.resolveMany([{ id: userId, email }], [userId])).get(userId) as Resolution;
  }

  private async resolveMany(
    users: { id: string; email: string }[],
    scope: string[] | 'all',
  ): Promise<Map<string, Resolution>> {
    const [direct, groups, fallback] = await Promise.all([
      this.repo.directRules(scope),
      this.repo.groupRules(scope),
      this.repo.defaultPolicy(),
    ]);
    const byUser = new Map<string, typeof groups>();
    for (const g of groups) byUser.set(g.userId, [...(byUser.get(g.userId) ?? []), g]);
    return new Map(
      users.map((u) => [u.id, resolvePolicy(u.email, direct.get(u.id), byUser.get(u.id) ?? [], fallback.id)]),
    );
  }

  private async affectedUserIds(row: PolicyRow): Promise<string[]> {
    const candidates = await this.repo.candidateUserIds(row.id);
    const users = await this.repo.usersByIds(candidates);
    const resolved = await this.resolveMany(users, candidates);
    return users.filter((u) => resolved.get(u.id)?.policyId === row.id).map((u) => u.id);
  }

  /** After a change to `row`'s settings: everyone under it should refetch. */
  private async publishFor(row: PolicyRow): Promise<void> {
    if (row.is_default) this.bus.publish('policy.changed', { userIds: 'all' });
    else this.publish(await this.affectedUserIds(row));
  }

  private publish(userIds: string[]): void {
    if (userIds.length) this.bus.publish('policy.changed', { userIds });
  }

  private nameTaken(err: unknown, name: string): unknown {
    return isUniqueViolation(err)
      ? new AppError(409, 'policy_name_taken', `a policy named ${name} already exists`)
      : err;
  }

  private async present(rows: PolicyRow[]): Promise<Policy[]> {
    const ids = rows.map((r) => r.id);
    const [users, groups] = await Promise.all([
      this.repo.userAssignments(ids),
      this.repo.groupAssignments(ids),
    ]);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      description: r.description,
      version: Number(r.version),
      document: documentOf(r),
      isDefault: Boolean(r.is_default),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      assignments: {
        users: users
          .filter((a) => a.policy_id === r.id)
          .map((a) => ({ userId: a.user_id, email: a.email, assignedAt: a.assigned_at })),
        groups: groups
          .filter((a) => a.policy_id === r.id)
          .map((a) => ({
            groupId: a.group_id,
            name: a.name,
            rank: Number(a.rank),
            assignedAt: a.assigned_at,
          })),
      },
    }));
  }
}
