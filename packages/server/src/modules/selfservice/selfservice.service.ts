import type { FastifyRequest } from 'fastify';
import type { Db } from '../../platform/db/database.js';
import { AppError, unauthenticated } from '../../platform/http/app-error.js';
import type { AdminPrincipal, EmployeePrincipal } from '../../platform/http/route.js';
import type { ActivationService } from '../activation/index.js';
import {
  actorOf,
  bearer,
  hashPassword,
  newToken,
  sameHash,
  tokenHash,
  verifyDummy,
  verifyPassword,
} from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { CommandService } from '../devices/index.js';
import type { UserService } from '../users/index.js';

const INVITATION_TTL_MS = 72 * 3600_000;
const SESSION_TTL_MS = 4 * 3600_000;
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 15 * 60_000;

const invalidInvitation = () =>
  new AppError(
    401,
    'invitation_invalid',
    'the invitation code is wrong, used or expired: ask your helpdesk for a new one',
  );

/**
 * The employees' self-service portal: first password from an invitation the helpdesk creates,
 * sign-in, the employee's own devices, an activation password for a new device (within the policy's
 * device limit), and lock or wipe of their own device — never anyone else's.
 */
export class SelfServiceService {
  constructor(
    private readonly db: Db,
    private readonly users: UserService,
    private readonly activation: ActivationService,
    private readonly commands: CommandService,
    private readonly audit: AuditService,
    /** The employee's effective policy's `devicesPerUser`. */
    private readonly deviceLimitFor: (userId: string, email: string) => Promise<number>,
  ) {}

  async invite(userId: string, by: AdminPrincipal, ip: string) {
    const user = await this.users.get(userId);
    const code = newToken('inv').slice(4, 28); // 24 characters of the random part; shown once
    const now = new Date();
    const expiresAt = new Date(now.getTime() + INVITATION_TTL_MS).toISOString();
    await this.db
      .insertInto('employee_invitations')
      .values({
        id: crypto.randomUUID(),
        user_id: user.id,
        code_hash: tokenHash(code),
        expires_at: expiresAt,
        used_at: null,
        created_by: by.adminId,
        created_at: now.toISOString(),
      })
      .execute();
    await this.audit.record({
      actor: actorOf(by),
      action: 'selfservice.invited',
      target: user.email,
      details: { expiresAt },
      ip,
    });
    return { userEmail: user.email, code, expiresAt };
  }

  async accept(input: { email: string; code: string; password: string }, ip: string) {
    const user = await this.users.byEmail(input.email).catch(() => undefined);
    if (!user) throw invalidInvitation();
    const now = new Date().toISOString();
    const invitations = await this.db
      .selectFrom('employee_invitations')
      .selectAll()
      .where('user_id', '=', user.id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .execute();
    const match = invitations.find((i) => sameHash(tokenHash(input.code), i.code_hash));
    if (!match) {
      await this.audit.record({
        actor: { type: 'anonymous', label: input.email },
        action: 'selfservice.invitation_failed',
        target: input.email,
        outcome: 'failure',
        ip,
      });
      throw invalidInvitation();
    }
    const used = await this.db
      .updateTable('employee_invitations')
      .set({ used_at: now })
      .where('id', '=', match.id)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    if (Number(used.numUpdatedRows) !== 1) throw invalidInvitation();
    const hash = await hashPassword(input.password);
    await this.db
      .insertInto('employee_accounts')
      .values({ user_id: user.id, password_hash: hash, created_at: now, updated_at: now })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ password_hash: hash, updated_at: now }))
      .execute();
    await this.audit.record({
      actor: { type: 'employee', id: user.id, label: user.email },
      action: 'selfservice.password_set',
      target: user.email,
      ip,
    });
    return this.login({ email: input.email, password: input.password }, ip);
  }

  async login(input: { email: string; password: string }, ip: string) {
    const key = `self:${input.email}`;
    const since = new Date(Date.now() - FAILURE_WINDOW_MS).toISOString();
    const failures = await this.db
      .selectFrom('login_failures')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('key', '=', key)
      .where('at', '>=', since)
      .executeTakeFirstOrThrow();
    if (Number(failures.n) >= MAX_FAILURES)
      throw new AppError(429, 'login_throttled', 'too many failed sign-ins; wait 15 minutes');
    const user = await this.users.byEmail(input.email).catch(() => undefined);
    const account = user
      ? await this.db
          .selectFrom('employee_accounts')
          .selectAll()
          .where('user_id', '=', user.id)
          .executeTakeFirst()
      : undefined;
    const ok = account
      ? await verifyPassword(account.password_hash, input.password)
      : await verifyDummy(input.password);
    if (!user || !account || !ok) {
      await this.db
        .insertInto('login_failures')
        .values({ id: crypto.randomUUID(), key, at: new Date().toISOString() })
        .execute();
      await this.audit.record({
        actor: { type: 'anonymous', label: input.email },
        action: 'selfservice.login',
        outcome: 'failure',
        ip,
      });
      throw new AppError(401, 'invalid_credentials', 'wrong email or password');
    }
    const token = newToken('ess');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS).toISOString();
    await this.db
      .insertInto('employee_sessions')
      .values({
        id: crypto.randomUUID(),
        token_hash: tokenHash(token),
        user_id: user.id,
        created_at: now.toISOString(),
        expires_at: expiresAt,
      })
      .execute();
    await this.audit.record({
      actor: { type: 'employee', id: user.id, label: user.email },
      action: 'selfservice.login',
      ip,
    });
    return { token, expiresAt, email: user.email };
  }

  async authenticate(request: FastifyRequest): Promise<EmployeePrincipal> {
    const token = bearer(request.headers.authorization);
    if (!token?.startsWith('ess_'))
      throw unauthenticated('sign in to self-service first (POST /api/v1/self/login)');
    const s = await this.db
      .selectFrom('employee_sessions')
      .innerJoin('users', 'users.id', 'employee_sessions.user_id')
      .select(['employee_sessions.id', 'employee_sessions.expires_at', 'users.id as user_id', 'users.email'])
      .where('employee_sessions.token_hash', '=', tokenHash(token))
      .executeTakeFirst();
    if (!s) throw unauthenticated('the session is not valid; sign in again');
    if (s.expires_at <= new Date().toISOString())
      throw new AppError(401, 'session_expired', 'the session expired; sign in again');
    return {
      kind: 'employee',
      userId: s.user_id,
      email: s.email,
      sessionId: s.id,
      sessionExpiresAt: s.expires_at,
    };
  }

  /** Who is signed in, and whether the portal should offer a new activation password. */
  async me(p: EmployeePrincipal) {
    const user = await this.users.get(p.userId);
    const [limit, activeDevices] = await Promise.all([
      this.deviceLimitFor(p.userId, p.email),
      this.activeDevices(p.userId),
    ]);
    return {
      userId: user.id,
      email: user.email,
      name: user.name,
      activeDevices,
      deviceLimit: limit,
      canCreateActivation: activeDevices < limit,
      sessionExpiresAt: p.sessionExpiresAt ?? new Date().toISOString(),
    };
  }

  /** Ends this portal session. */
  async logout(p: EmployeePrincipal, ip: string): Promise<{ ok: true }> {
    await this.db.deleteFrom('employee_sessions').where('id', '=', p.sessionId).execute();
    await this.audit.record({
      actor: { type: 'employee', id: p.userId, label: p.email },
      action: 'selfservice.logout',
      ip,
    });
    return { ok: true };
  }

  private async activeDevices(userId: string): Promise<number> {
    const active = await this.db
      .selectFrom('devices')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', userId)
      .where('status', '=', 'active')
      .executeTakeFirstOrThrow();
    return Number(active.n);
  }

  async devices(p: EmployeePrincipal) {
    const rows = await this.db
      .selectFrom('devices')
      .selectAll()
      .where('user_id', '=', p.userId)
      .orderBy('activated_at', 'desc')
      .execute();
    return {
      items: rows.map((r) => ({
        id: r.id,
        name: r.name,
        platform: r.platform,
        status: r.status,
        activatedAt: r.activated_at,
        lastContactAt: r.last_contact_at,
      })),
    };
  }

  /** An activation password for the employee's own new device (the device limit applies at activation). */
  async createActivation(p: EmployeePrincipal, ip: string) {
    // The policy decides: no activation password for a device the employee could not activate anyway.
    const limit = await this.deviceLimitFor(p.userId, p.email);
    if ((await this.activeDevices(p.userId)) >= limit) {
      throw new AppError(
        409,
        'device_limit_reached',
        `your policy allows ${limit} active device(s): ask your helpdesk to remove one first`,
      );
    }
    return this.activation.create(
      { email: p.email, expiresInSeconds: 24 * 3600 },
      { kind: 'employee', userId: p.userId, email: p.email },
      ip,
    );
  }

  /** Lock or wipe one of the employee's own devices; any other device is "not found" to them. */
  async command(
    p: EmployeePrincipal,
    deviceId: string,
    input: { type: 'lock' | 'wipe'; message?: string | undefined },
    ip: string,
  ) {
    const device = await this.db
      .selectFrom('devices')
      .select(['id', 'user_id', 'status'])
      .where('id', '=', deviceId)
      .executeTakeFirst();
    if (!device || device.user_id !== p.userId)
      throw new AppError(404, 'device_not_found', 'no such device among yours');
    if (device.status !== 'active') throw new AppError(409, 'conflict', 'that device is no longer active');
    const cmd = await this.commands.create(deviceId, input.type, null, { message: input.message });
    await this.audit.record({
      actor: { type: 'employee', id: p.userId, label: p.email },
      action: 'device.command_sent',
      target: deviceId,
      details: { commandId: cmd.id, type: input.type, via: 'self-service' },
      ip,
    });
    return { commandId: cmd.id, type: input.type, state: cmd.state as 'queued', createdAt: cmd.created_at };
  }
}
