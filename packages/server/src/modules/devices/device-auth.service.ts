import { randomBytes } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { type DevicePolicy, deviceAuthSigningInput } from '@enclave/protocol';
import { parseCertificate, verifyWithCertificate } from '@enclave/crypto';
import { AppError, unauthenticated } from '../../platform/http/app-error.js';
import type { DevicePrincipal } from '../../platform/http/route.js';
import { bearer, newToken, tokenHash } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { PkiService } from '../pki/index.js';
import type { DeviceRepository } from './device.repository.js';
import type { CommandService } from './command.service.js';
import { complianceReasonsOf } from './present.js';

const CHALLENGE_TTL_MS = 60_000;
const TOKEN_TTL_MS = 15 * 60_000;

/** Where a device's effective policy comes from (the policies module, wired in app.ts). */
export interface DevicePolicySource {
  forDevice(userId: string, userEmail: string): Promise<DevicePolicy>;
}

/** What a quarantined device may still reach (its own status and posture; self-service later). */
export const QUARANTINE_ALLOWED_PATHS: ReadonlySet<string> = new Set([
  '/api/v1/device/me',
  '/api/v1/device/posture',
]);

const revoked = () => new AppError(401, 'device_revoked', 'this device has been revoked by the organisation');

/**
 * Device authentication: the device signs a fresh server nonce with the key its enterprise
 * certificate certifies; the server checks chain, validity and revocation, then issues a short-lived
 * token. Revocation is checked on every request, so a revoked device is refused at once.
 */
export class DeviceAuthService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly pki: PkiService,
    private readonly audit: AuditService,
    private readonly commands: CommandService,
    private readonly policies: DevicePolicySource,
  ) {}

  async challenge(deviceId: string) {
    const device = await this.devices.byId(deviceId);
    if (!device) throw new AppError(401, 'unauthenticated', 'unknown device: activate it first');
    if (device.status !== 'active') throw revoked();
    const row = {
      id: crypto.randomUUID(),
      device_id: deviceId,
      nonce: randomBytes(32).toString('base64url'),
      expires_at: new Date(Date.now() + CHALLENGE_TTL_MS).toISOString(),
    };
    await this.devices.insertChallenge(row);
    return { challengeId: row.id, nonce: row.nonce, expiresAt: row.expires_at };
  }

  async token(challengeId: string, signatureB64: string, ip: string) {
    const ch = await this.devices.takeChallenge(challengeId);
    const now = new Date();
    if (!ch || ch.expires_at <= now.toISOString())
      throw new AppError(
        401,
        'challenge_invalid',
        'the challenge is unknown, used or expired: ask for a new one',
      );
    const device = await this.devices.byId(ch.device_id);
    if (!device) throw new AppError(401, 'unauthenticated', 'unknown device');
    const actor = { type: 'device' as const, id: device.id, label: device.user_email };
    if (device.status !== 'active') {
      await this.audit.record({
        actor,
        action: 'device.auth',
        outcome: 'failure',
        details: { reason: 'revoked' },
        ip,
      });
      throw revoked();
    }
    const cert = parseCertificate(device.certificate);
    if (!(await this.pki.isOurs(cert, now))) {
      await this.audit.record({
        actor,
        action: 'device.auth',
        outcome: 'failure',
        details: { reason: 'certificate' },
        ip,
      });
      throw new AppError(
        401,
        'certificate_invalid',
        'the device certificate is expired or not issued by this enterprise: re-activate the device',
      );
    }
    const input = Buffer.from(deviceAuthSigningInput(ch.id, ch.nonce, device.id), 'utf8');
    if (!(await verifyWithCertificate(cert, input, Buffer.from(signatureB64, 'base64url')))) {
      await this.audit.record({
        actor,
        action: 'device.auth',
        outcome: 'failure',
        details: { reason: 'signature' },
        ip,
      });
      throw new AppError(
        401,
        'signature_invalid',
        'the signature does not verify with the device certificate',
      );
    }
    const token = newToken('end');
    const expiresAt = new Date(now.getTime() + TOKEN_TTL_MS).toISOString();
    await this.devices.insertSession({
      id: crypto.randomUUID(),
      token_hash: tokenHash(token),
      device_id: device.id,
      created_at: now.toISOString(),
      expires_at: expiresAt,
    });
    await this.devices.touch(device.id, now.toISOString());
    return { token, expiresAt, deviceId: device.id };
  }

  async authenticate(request: FastifyRequest): Promise<DevicePrincipal> {
    const token = bearer(request.headers.authorization);
    if (!token || !token.startsWith('end_'))
      throw unauthenticated('device token required (POST /api/v1/device-auth/token)');
    const s = await this.devices.sessionByTokenHash(tokenHash(token));
    if (!s) {
      throw unauthenticated('the device token is not valid; authenticate again');
    }
    if (s.status !== 'active') throw revoked();
    if (s.expires_at <= new Date().toISOString())
      throw new AppError(401, 'session_expired', 'the device token expired; authenticate again');
    // Quarantine (a compliance action): only the paths that let the device get back in line.
    if (Number(s.quarantined ?? 0) === 1 && !QUARANTINE_ALLOWED_PATHS.has(request.url.split('?')[0] ?? ''))
      throw new AppError(
        403,
        'device_quarantined',
        'this device is quarantined for breaking the compliance policy: see GET /api/v1/device/me',
      );
    return { kind: 'device', deviceId: s.device_id, userId: s.user_id, userEmail: s.user_email };
  }

  async purge(): Promise<void> {
    await this.devices.purgeExpired(new Date().toISOString());
  }

  /** First version of the device check-in: who am I, am I still trusted, what is pending. */
  async me(p: DevicePrincipal) {
    const device = await this.devices.byId(p.deviceId);
    if (!device || device.status !== 'active') throw revoked();
    await this.devices.touch(device.id, new Date().toISOString());
    const commands = await this.commands.pendingFor(device.id);
    return {
      deviceId: device.id,
      userEmail: device.user_email,
      status: 'active' as const,
      compliance: device.compliance ?? 'unknown',
      complianceReasons: complianceReasonsOf(device),
      policy: await this.policies.forDevice(device.user_id, device.user_email),
      commands,
    };
  }
}
