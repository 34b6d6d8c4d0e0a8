import * as opaque from '@serenity-kit/opaque';
import {
  ACTIVATION_DEFAULT_TTL_S,
  ACTIVATION_MAX_ATTEMPTS,
  type ActivationGrant,
  ActivationRequestSchema,
} from '@enclave/protocol';
import { activationChannel, CsrError } from '@enclave/crypto';
import type { Bus } from '../../platform/bus/bus.js';
import { AppError } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { SecretBox } from '../../platform/keystore/keystore.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { DeviceRepository, DeviceRow } from '../devices/index.js';
import type { PkiService } from '../pki/index.js';
import type { UserService } from '../users/index.js';
import type { ActivationRepository, ActivationRow } from './activation.repository.js';
import { generateActivationPassword } from './activation-password.js';

const ATTEMPT_TTL_MS = 2 * 60_000;
const MAX_LIVE_PER_USER = 10;
/** Used or expired passwords still take part in a login for this long, so the device gets a precise error. */
const RECENT_MS = 7 * 24 * 3600_000;

export interface ActivationOptions {
  serverSetup: string;
  publicUrl: string;
  deviceLimit: number;
  /** The user's effective policy's `devicesPerUser`; the lower of it and `deviceLimit` applies. */
  deviceLimitFor?: (userId: string, email: string) => Promise<number>;
  /**
   * The installation's saved defaults (settings): the password lifetime when a request names none,
   * and the device limit that replaces `deviceLimit` once an administrator saved one.
   */
  defaults?: () => Promise<{ ttlSeconds: number; deviceLimit: number }>;
}

type Status = 'live' | 'used' | 'expired' | 'locked';

export function activationStatus(row: ActivationRow, now = new Date().toISOString()): Status {
  if (row.used_at) return 'used';
  if (row.failed_attempts >= ACTIVATION_MAX_ATTEMPTS) return 'locked';
  if (row.expires_at <= now) return 'expired';
  return 'live';
}

function present(row: ActivationRow, email: string) {
  return {
    id: row.id,
    userEmail: email,
    status: activationStatus(row),
    failedAttempts: row.failed_attempts,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    usedAt: row.used_at,
  };
}

const wrongPassword = () =>
  new AppError(401, 'activation_password_wrong', 'the activation password is wrong for this email');

/**
 * One-time activation passwords, proven with OPAQUE (RFC 9807): the server registers the password's
 * OPAQUE record when it creates it and forgets the password; a device later proves it knows the
 * password without sending it, and both sides get a session key that carries the CSR and the
 * enterprise CA chain.
 */
export class ActivationService {
  constructor(
    private readonly repo: ActivationRepository,
    private readonly users: UserService,
    private readonly devices: DeviceRepository,
    private readonly pki: PkiService,
    private readonly audit: AuditService,
    private readonly secrets: SecretBox,
    private readonly opts: ActivationOptions,
    private readonly bus: Bus,
  ) {}

  /**
   * Creates an activation password. `by` is the administrator, or — through self-service — the
   * employee for their own user (`{ kind: 'employee' }`).
   */
  async create(
    input: { email: string; expiresInSeconds?: number | undefined },
    by: AdminPrincipal | { kind: 'employee'; userId: string; email: string },
    ip: string,
  ) {
    const user = await this.users.byEmail(input.email);
    const expiresInSeconds =
      input.expiresInSeconds ?? (await this.opts.defaults?.())?.ttlSeconds ?? ACTIVATION_DEFAULT_TTL_S;
    const now = new Date();
    const live = (await this.repo.listForUser(user.id)).filter((r) => activationStatus(r) === 'live');
    if (live.length >= MAX_LIVE_PER_USER) {
      throw new AppError(
        409,
        'activation_limit',
        `this user already has ${MAX_LIVE_PER_USER} live activation passwords: revoke some first`,
      );
    }
    const id = crypto.randomUUID();
    const password = generateActivationPassword();
    // The server plays both OPAQUE roles once, keeps only the record, and forgets the password.
    const reg = opaque.client.startRegistration({ password });
    const { registrationResponse } = opaque.server.createRegistrationResponse({
      serverSetup: this.opts.serverSetup,
      userIdentifier: id,
      registrationRequest: reg.registrationRequest,
    });
    const { registrationRecord } = opaque.client.finishRegistration({
      clientRegistrationState: reg.clientRegistrationState,
      registrationResponse,
      password,
    });
    const row: ActivationRow = {
      id,
      user_id: user.id,
      registration_record: registrationRecord,
      failed_attempts: 0,
      expires_at: new Date(now.getTime() + expiresInSeconds * 1000).toISOString(),
      created_at: now.toISOString(),
      created_by: by.kind === 'admin' ? by.adminId : null,
      used_at: null,
      device_id: null,
    };
    await this.repo.insert(row);
    await this.audit.record({
      actor: by.kind === 'admin' ? actorOf(by) : { type: 'employee', id: by.userId, label: by.email },
      action: 'activation.created',
      target: user.email,
      details: { activationId: id, expiresAt: row.expires_at },
      ip,
    });
    const qr = JSON.stringify({
      v: 1,
      server: this.opts.publicUrl,
      email: user.email,
      password,
      caFingerprint: this.pki.caFingerprint,
    });
    return { ...present(row, user.email), password, qr };
  }

  /** The most active devices this user may hold: the lower of the installation default and their policy's. */
  async deviceLimitOf(userId: string, email: string): Promise<number> {
    const installation = (await this.opts.defaults?.())?.deviceLimit ?? this.opts.deviceLimit;
    return Math.min(installation, (await this.opts.deviceLimitFor?.(userId, email)) ?? Infinity);
  }

  async list(by: { email: string } | { userId: string }) {
    const user = 'email' in by ? await this.users.byEmail(by.email) : await this.users.get(by.userId);
    return { items: (await this.repo.listForUser(user.id)).map((r) => present(r, user.email)) };
  }

  async revoke(id: string, by: AdminPrincipal, ip: string) {
    const row = await this.repo.byId(id);
    if (!row) throw new AppError(404, 'not_found', 'activation password not found');
    await this.repo.expireNow(id, new Date().toISOString());
    await this.audit.record({ actor: actorOf(by), action: 'activation.revoked', target: id, ip });
    return { ok: true as const };
  }

  /** OPAQUE KE1 → one KE2 per candidate record. Each try counts against every live candidate up front. */
  async start(email: string, startLoginRequest: string, ip: string) {
    const now = new Date();
    const user = await this.users.byEmail(email).catch(() => undefined);
    const rows = user
      ? await this.repo.recentForUser(user.id, new Date(now.getTime() - RECENT_MS).toISOString())
      : [];
    const iso = now.toISOString();
    // A locked password never takes part again: answering for it would let a guesser keep testing.
    const candidates = rows.filter((r) => activationStatus(r, iso) !== 'locked').slice(0, 20);
    if (user && candidates.length === 0 && rows.some((r) => activationStatus(r, iso) === 'locked')) {
      await this.audit.record({
        actor: { type: 'anonymous', label: email },
        action: 'activation.failed',
        target: email,
        outcome: 'failure',
        details: { reason: 'locked' },
        ip,
      });
      throw new AppError(
        403,
        'activation_locked',
        'this activation password was locked after too many wrong tries: ask your helpdesk for a new one',
      );
    }
    const attemptId = crypto.randomUUID();
    const states: string[] = [];
    const loginResponses: string[] = [];
    try {
      if (candidates.length === 0) {
        // Unknown email or nothing to activate: answer like a real record so emails cannot be probed.
        const fake = opaque.server.startLogin({
          serverSetup: this.opts.serverSetup,
          userIdentifier: attemptId,
          registrationRecord: null,
          startLoginRequest,
        });
        loginResponses.push(fake.loginResponse);
        states.push('');
      }
      for (const c of candidates) {
        const r = opaque.server.startLogin({
          serverSetup: this.opts.serverSetup,
          userIdentifier: c.id,
          registrationRecord: c.registration_record,
          startLoginRequest,
        });
        loginResponses.push(r.loginResponse);
        states.push(r.serverLoginState);
      }
    } catch {
      throw new AppError(400, 'validation_failed', 'startLoginRequest is not a valid OPAQUE KE1 message');
    }
    const liveIds = candidates.filter((c) => activationStatus(c, iso) === 'live').map((c) => c.id);
    await this.repo.adjustAttempts(liveIds, 1);
    await this.repo.insertAttempt({
      id: attemptId,
      user_id: user?.id ?? null,
      candidates: JSON.stringify({ ids: candidates.map((c) => c.id), live: liveIds, email }),
      states_sealed: this.secrets.seal(JSON.stringify(states), `activation-attempt:${attemptId}`),
      created_at: iso,
      expires_at: new Date(now.getTime() + ATTEMPT_TTL_MS).toISOString(),
    });
    return { attemptId, loginResponses };
  }

  private async takeAttempt(attemptId: string) {
    const attempt = await this.repo.takeAttempt(attemptId);
    if (!attempt || attempt.expires_at <= new Date().toISOString()) {
      throw new AppError(
        401,
        'activation_session_invalid',
        'the activation attempt is unknown or expired: start again',
      );
    }
    const meta = JSON.parse(attempt.candidates) as { ids: string[]; live: string[]; email: string };
    const states = JSON.parse(
      this.secrets.open(attempt.states_sealed, `activation-attempt:${attemptId}`),
    ) as string[];
    return { attempt, meta, states };
  }

  /** The device found no record its password opens. The try was already counted; this reports it. */
  async abort(attemptId: string, ip: string): Promise<never> {
    const { meta } = await this.takeAttempt(attemptId);
    const rows = (await Promise.all(meta.live.map((id) => this.repo.byId(id)))).filter(
      (r): r is ActivationRow => r !== undefined,
    );
    const nowLocked = rows.filter((r) => activationStatus(r) === 'locked');
    const anon = { type: 'anonymous' as const, label: meta.email };
    await this.audit.record({
      actor: anon,
      action: 'activation.failed',
      target: meta.email,
      outcome: 'failure',
      details: { reason: 'wrong_password' },
      ip,
    });
    for (const r of nowLocked.filter((x) => x.failed_attempts === ACTIVATION_MAX_ATTEMPTS)) {
      await this.audit.record({
        actor: anon,
        action: 'activation.locked',
        target: meta.email,
        outcome: 'failure',
        details: { activationId: r.id },
        ip,
      });
    }
    if (rows.length > 0 && nowLocked.length === rows.length) {
      throw new AppError(
        403,
        'activation_locked',
        'too many wrong tries: this activation password is now locked; ask your helpdesk for a new one',
      );
    }
    const left = rows.length ? Math.min(...rows.map((r) => ACTIVATION_MAX_ATTEMPTS - r.failed_attempts)) : 0;
    throw new AppError(
      401,
      'activation_password_wrong',
      `the activation password is wrong for this email${left ? ` (${left} tries left)` : ''}`,
    );
  }

  /** OPAQUE KE3 for the record the device's password opened, then the sealed CSR → certificate. */
  async finish(
    input: { attemptId: string; index: number; finishLoginRequest: string; sealed: string },
    ip: string,
  ) {
    const { meta, states } = await this.takeAttempt(input.attemptId);
    const activationId = meta.ids[input.index];
    const state = states[input.index];
    if (!activationId || !state) throw wrongPassword();
    let sessionKey: string;
    try {
      ({ sessionKey } = opaque.server.finishLogin({
        serverLoginState: state,
        finishLoginRequest: input.finishLoginRequest,
      }));
    } catch {
      throw wrongPassword();
    }
    // The device proved the password: this try was not a wrong one, so take back the up-front count.
    await this.repo.adjustAttempts(meta.live, -1);
    const row = await this.repo.byId(activationId);
    const user = row ? await this.users.get(row.user_id).catch(() => undefined) : undefined;
    if (!row || !user) throw wrongPassword();
    const status = activationStatus(row);
    if (status === 'used') {
      await this.recordFailure(user.email, { reason: 'used', activationId }, ip);
      throw new AppError(
        409,
        'activation_used',
        'this activation password was already used: ask your helpdesk for a new one',
      );
    }
    if (status === 'expired') {
      await this.recordFailure(user.email, { reason: 'expired', activationId }, ip);
      throw new AppError(
        410,
        'activation_expired',
        'this activation password has expired: ask your helpdesk for a new one',
      );
    }
    const channel = activationChannel(sessionKey, input.attemptId);
    let request;
    try {
      request = ActivationRequestSchema.parse(channel.openFromDevice(input.sealed));
    } catch {
      throw new AppError(
        400,
        'bad_request',
        'the sealed activation request cannot be opened or is malformed',
      );
    }
    const limit = await this.deviceLimitOf(user.id, user.email);
    if (user.deviceCount >= limit) {
      await this.recordFailure(user.email, { reason: 'device_limit', limit }, ip);
      throw new AppError(
        409,
        'device_limit_reached',
        `this user already has ${limit} active devices (the limit of their policy): revoke one first`,
      );
    }
    const deviceId = crypto.randomUUID();
    let cert;
    try {
      cert = await this.pki.issueDevice({
        csrPem: request.csr,
        deviceId,
        userId: user.id,
        email: user.email,
      });
    } catch (err) {
      if (err instanceof CsrError) throw new AppError(400, 'csr_invalid', err.message);
      throw err;
    }
    const now = new Date().toISOString();
    const device: DeviceRow = {
      id: deviceId,
      user_id: user.id,
      name: request.deviceName ?? `${request.platform} device`,
      platform: request.platform,
      client_version: request.clientVersion,
      status: 'active',
      certificate: cert.toString('pem'),
      certificate_serial: cert.serialNumber.toLowerCase(),
      certificate_not_after: cert.notAfter.toISOString(),
      activated_at: now,
      last_contact_at: now,
      revoked_at: null,
    };
    if (!(await this.repo.consume(activationId, deviceId, now, device))) {
      throw new AppError(
        409,
        'activation_used',
        'this activation password was already used: ask your helpdesk for a new one',
      );
    }
    await this.audit.record({
      actor: { type: 'anonymous', label: user.email },
      action: 'activation.used',
      target: user.email,
      details: { activationId, deviceId },
      ip,
    });
    await this.audit.record({
      actor: { type: 'device', id: deviceId, label: user.email },
      action: 'device.activated',
      target: deviceId,
      details: {
        platform: request.platform,
        clientVersion: request.clientVersion,
        serial: device.certificate_serial,
      },
      ip,
    });
    this.bus.publish('device.activated', { deviceId, userId: user.id });
    const grant: ActivationGrant = {
      deviceId,
      certificate: device.certificate,
      chain: this.pki.chainPems(),
      caFingerprint: this.pki.caFingerprint,
      userEmail: user.email,
    };
    return { sealed: channel.sealToDevice(grant) };
  }

  /** An activation that proved the password but cannot go on (used, expired, device limit). */
  private async recordFailure(email: string, details: Record<string, unknown>, ip: string): Promise<void> {
    await this.audit.record({
      actor: { type: 'anonymous', label: email },
      action: 'activation.failed',
      target: email,
      outcome: 'failure',
      details,
      ip,
    });
  }

  async purge(): Promise<void> {
    await this.repo.purgeAttempts(new Date().toISOString());
  }
}
