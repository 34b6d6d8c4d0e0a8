import { canGrantRole, type Role } from '@enclave/protocol';
import { isUniqueViolation } from '../../platform/db/database.js';
import { AppError, notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { AuditService } from '../audit/index.js';
import { type AdminRepository, LastSecurityAdmin } from './admin.repository.js';
import { actorOf } from './auth.service.js';
import { hashPassword } from './password.js';
import { presentAdmin } from './present.js';

/** Administrators and their roles. Only Security Administrators reach this (admins:manage). */
export class AdminService {
  constructor(
    private readonly admins: AdminRepository,
    private readonly audit: AuditService,
  ) {}

  async list() {
    return { items: (await this.admins.list()).map(presentAdmin) };
  }

  /** Creates an administrator; used by the API and, with no principal, by `init` and setup. */
  async create(
    input: { email: string; role: Role; password: string },
    by: AdminPrincipal | null,
    ip: string | null,
    action = 'admin.created',
  ) {
    if (by && !canGrantRole(by.role, input.role)) {
      throw new AppError(
        403,
        'role_not_grantable',
        `a ${by.role} cannot grant ${input.role}: it has permissions you lack`,
      );
    }
    const now = new Date().toISOString();
    const row = {
      id: crypto.randomUUID(),
      email: input.email,
      role: input.role,
      password_hash: await hashPassword(input.password),
      totp_secret_sealed: null,
      totp_pending_sealed: null,
      totp_enabled: 0,
      totp_last_step: 0,
      created_at: now,
      updated_at: now,
    };
    try {
      await this.admins.insert(row);
    } catch (err) {
      if (isUniqueViolation(err))
        throw new AppError(409, 'email_taken', `an administrator with email ${input.email} already exists`);
      throw err;
    }
    await this.audit.record({
      actor: by ? actorOf(by) : { type: 'system', label: 'setup' },
      action,
      target: input.email,
      details: { role: input.role },
      ip,
    });
    return presentAdmin(row);
  }

  async setRole(id: string, role: Role, by: AdminPrincipal, ip: string) {
    const row = await this.admins.byId(id);
    if (!row) throw notFound('administrator');
    if (!canGrantRole(by.role, role))
      throw new AppError(403, 'role_not_grantable', `a ${by.role} cannot grant ${role}`);
    try {
      await this.admins.changeKeepingSecurityAdmin(id, { role });
    } catch (err) {
      if (err instanceof LastSecurityAdmin) throw lastAdminError();
      throw err;
    }
    await this.admins.deleteSessionsOf(id); // a new role takes effect at once: the old sessions carried the old one
    await this.audit.record({
      actor: actorOf(by),
      action: 'admin.role_changed',
      target: row.email,
      details: { from: row.role, to: role },
      ip,
    });
    return presentAdmin({ ...row, role });
  }

  async remove(id: string, by: AdminPrincipal, ip: string) {
    const row = await this.admins.byId(id);
    if (!row) throw notFound('administrator');
    try {
      await this.admins.changeKeepingSecurityAdmin(id, 'delete');
    } catch (err) {
      if (err instanceof LastSecurityAdmin) throw lastAdminError();
      throw err;
    }
    await this.audit.record({
      actor: actorOf(by),
      action: 'admin.deleted',
      target: row.email,
      details: { role: row.role },
      ip,
    });
    return { ok: true as const };
  }
}

function lastAdminError() {
  return new AppError(
    409,
    'last_security_admin',
    'at least one Security Administrator must remain: promote another admin first',
  );
}
