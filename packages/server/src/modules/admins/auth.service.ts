import type { FastifyRequest } from 'fastify';
import { ROLE_PERMISSIONS, type Role } from '@enclave/protocol';
import { AppError, unauthenticated } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { SecretBox } from '../../platform/keystore/keystore.js';
import type { AuditService } from '../audit/index.js';
import type { AdminRepository } from './admin.repository.js';
import { hashPassword, verifyDummy, verifyPassword } from './password.js';
import { presentAdmin } from './present.js';
import { bearer, newToken, sameHash, tokenHash } from './tokens.js';
import { matchTotp, newTotpSecret } from './totp.js';

export const SESSION_COOKIE = 'enclave_session';
const SESSION_TTL_MS = 8 * 3600_000;
const THROTTLE_WINDOW_MS = 15 * 60_000;
const MAX_FAILURES_PER_EMAIL = 5;
const MAX_FAILURES_PER_IP = 30;

export interface AuthOptions {
  organization: string;
}

/** Administrator sign-in: argon2id passwords, RFC 6238 TOTP, hashed session tokens, throttling. */
export class AuthService {
  constructor(
    private readonly admins: AdminRepository,
    private readonly audit: AuditService,
    private readonly secrets: SecretBox,
    private readonly opts: AuthOptions,
  ) {}

  async login(input: { email: string; password: string; totp?: string | undefined }, ip: string) {
    const since = new Date(Date.now() - THROTTLE_WINDOW_MS).toISOString();
    const emailKey = `email:${input.email}`;
    const ipKey = `ip:${ip}`;
    if (
      (await this.admins.failuresSince(emailKey, since)) >= MAX_FAILURES_PER_EMAIL ||
      (await this.admins.failuresSince(ipKey, since)) >= MAX_FAILURES_PER_IP
    ) {
      await this.audit.record({
        actor: { type: 'anonymous', label: input.email },
        action: 'admin.login',
        outcome: 'failure',
        details: { reason: 'throttled' },
        ip,
      });
      throw new AppError(
        429,
        'login_throttled',
        'too many failed sign-ins; wait 15 minutes or ask a Security Administrator',
      );
    }
    const admin = await this.admins.byEmail(input.email);
    const passwordOk = admin
      ? await verifyPassword(admin.password_hash, input.password)
      : await verifyDummy(input.password);
    const fail = async (reason: string, code: 'invalid_credentials' | 'totp_invalid') => {
      await this.admins.recordFailure([emailKey, ipKey], new Date().toISOString());
      await this.audit.record({
        actor: { type: 'anonymous', id: admin?.id ?? null, label: input.email },
        action: 'admin.login',
        outcome: 'failure',
        details: { reason },
        ip,
      });
      return new AppError(
        401,
        code,
        code === 'totp_invalid' ? 'the TOTP code is wrong or was already used' : 'wrong email or password',
      );
    };
    if (!admin || !passwordOk) throw await fail('bad_password', 'invalid_credentials');
    if (admin.totp_enabled === 1) {
      if (!input.totp)
        throw new AppError(
          401,
          'totp_required',
          'this account uses two-factor sign-in: add the 6-digit TOTP code',
        );
      const secret = this.secrets.open(admin.totp_secret_sealed ?? '', `totp:${admin.id}`);
      const step = matchTotp(secret, input.totp);
      if (step === null || step <= Number(admin.totp_last_step)) throw await fail('bad_totp', 'totp_invalid');
      await this.admins.update(admin.id, { totp_last_step: step });
    }
    await this.admins.clearFailures(emailKey);
    const token = newToken('ens');
    const csrfToken = newToken('csrf');
    const now = new Date();
    const expiresAt = new Date(now.getTime() + SESSION_TTL_MS).toISOString();
    await this.admins.insertSession({
      id: crypto.randomUUID(),
      token_hash: tokenHash(token),
      csrf_hash: tokenHash(csrfToken),
      admin_id: admin.id,
      created_at: now.toISOString(),
      expires_at: expiresAt,
    });
    await this.audit.record({
      actor: { type: 'admin', id: admin.id, label: admin.email },
      action: 'admin.login',
      details: { totp: admin.totp_enabled === 1 },
      ip,
    });
    return { token, csrfToken, expiresAt, admin: presentAdmin(admin) };
  }

  async logout(principal: AdminPrincipal, ip: string): Promise<void> {
    await this.admins.deleteSession(principal.sessionId);
    await this.audit.record({ actor: actorOf(principal), action: 'admin.logout', ip });
  }

  /**
   * Resolves the calling administrator from a bearer token, or from the session cookie — in which
   * case an unsafe method must also carry the CSRF token (double submit, checked in constant time).
   */
  async authenticate(request: FastifyRequest): Promise<AdminPrincipal> {
    const fromHeader = bearer(request.headers.authorization);
    const fromCookie = fromHeader ? undefined : request.cookies?.[SESSION_COOKIE];
    const token = fromHeader ?? fromCookie;
    if (!token || !token.startsWith('ens_'))
      throw unauthenticated('sign in first (no administrator session)');
    const s = await this.admins.sessionByTokenHash(tokenHash(token));
    if (!s) throw unauthenticated('the session is not valid; sign in again');
    if (s.expires_at <= new Date().toISOString()) {
      await this.admins.deleteSession(s.sessionId);
      throw new AppError(401, 'session_expired', 'the session expired; sign in again');
    }
    if (fromCookie && !['GET', 'HEAD', 'OPTIONS'].includes(request.method)) {
      const csrf = request.headers['x-csrf-token'];
      if (typeof csrf !== 'string' || !sameHash(tokenHash(csrf), s.csrf_hash)) {
        throw new AppError(403, 'csrf_failed', 'missing or wrong x-csrf-token header');
      }
    }
    return {
      kind: 'admin',
      adminId: s.adminId,
      email: s.email,
      role: s.role as Role,
      sessionId: s.sessionId,
      sessionExpiresAt: s.expires_at,
    };
  }

  /** The signed-in administrator with the permissions of their role, so the console hides what it may not do. */
  async me(principal: AdminPrincipal) {
    const row = await this.admins.byId(principal.adminId);
    if (!row) throw unauthenticated();
    const admin = presentAdmin(row);
    return {
      ...admin,
      permissions: [...ROLE_PERMISSIONS[admin.role]],
      sessionExpiresAt: principal.sessionExpiresAt ?? new Date().toISOString(),
    };
  }

  async enrollTotp(principal: AdminPrincipal, ip: string) {
    const { secret, otpauthUrl } = newTotpSecret(this.opts.organization, principal.email);
    await this.admins.update(principal.adminId, {
      totp_pending_sealed: this.secrets.seal(secret, `totp-pending:${principal.adminId}`),
    });
    await this.audit.record({
      actor: actorOf(principal),
      action: 'admin.totp_enroll_started',
      target: principal.email,
      ip,
    });
    return { secret, otpauthUrl };
  }

  async confirmTotp(principal: AdminPrincipal, code: string, ip: string) {
    const row = await this.admins.byId(principal.adminId);
    if (!row?.totp_pending_sealed) throw new AppError(409, 'totp_not_enrolled', 'start TOTP enrolment first');
    const secret = this.secrets.open(row.totp_pending_sealed, `totp-pending:${row.id}`);
    const step = matchTotp(secret, code);
    if (step === null)
      throw new AppError(
        400,
        'totp_invalid',
        'the code does not match; check the authenticator clock and try again',
      );
    await this.admins.update(row.id, {
      totp_secret_sealed: this.secrets.seal(secret, `totp:${row.id}`),
      totp_pending_sealed: null,
      totp_enabled: 1,
      totp_last_step: step,
      updated_at: new Date().toISOString(),
    });
    await this.audit.record({
      actor: actorOf(principal),
      action: 'admin.totp_enabled',
      target: principal.email,
      ip,
    });
    const updated = await this.admins.byId(row.id);
    if (!updated) throw unauthenticated();
    return presentAdmin(updated);
  }

  /** Used by setup, init and admin creation. */
  hashPassword(password: string): Promise<string> {
    return hashPassword(password);
  }
}

export function actorOf(p: AdminPrincipal) {
  return { type: 'admin' as const, id: p.adminId, label: p.email };
}
