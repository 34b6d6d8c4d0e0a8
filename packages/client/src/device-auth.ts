import {
  type ComplianceResult,
  ComplianceResultSchema,
  DeviceChallengeResultSchema,
  DeviceSelfSchema,
  type PostureReport,
  DeviceTokenSchema,
  deviceAuthSigningInput,
} from '@enclave/protocol';
import { importPkcs8, signEd25519 } from '@enclave/crypto';
import type { z } from 'zod';
import { call, type Transport } from './transport.js';

/** A device session token. */
export type DeviceToken = z.infer<typeof DeviceTokenSchema>;
/** What the server tells an authenticated device about itself. */
export type DeviceSelf = z.infer<typeof DeviceSelfSchema>;

/** What {@link authenticateDevice} needs. */
export interface AuthenticateDeviceOptions {
  /** Should be pinned to the enterprise CA (`ca.pem` of the device directory). */
  transport: Transport;
  deviceId: string;
  /** The device's Ed25519 private key, as a CryptoKey or PKCS#8 DER. */
  privateKey: CryptoKey | Uint8Array;
}

/**
 * Device authentication (docs/API.md §Device authentication): asks for a challenge, signs
 * `deviceAuthSigningInput(challengeId, nonce, deviceId)` with the device key, and trades the
 * signature for a bearer token. A revoked device fails with `device_revoked`.
 * @example const { token } = await authenticateDevice({ transport, deviceId, privateKey });
 */
export async function authenticateDevice(opts: AuthenticateDeviceOptions): Promise<DeviceToken> {
  const key =
    opts.privateKey instanceof Uint8Array ? await importPkcs8(opts.privateKey, 'ed25519') : opts.privateKey;
  const challenge = await call(
    opts.transport,
    { method: 'POST', path: '/api/v1/device-auth/challenge', body: { deviceId: opts.deviceId } },
    DeviceChallengeResultSchema,
  );
  const input = deviceAuthSigningInput(challenge.challengeId, challenge.nonce, opts.deviceId);
  const signature = (await signEd25519(key, Buffer.from(input, 'utf8'))).toString('base64url');
  return call(
    opts.transport,
    {
      method: 'POST',
      path: '/api/v1/device-auth/token',
      body: { challengeId: challenge.challengeId, signature },
    },
    DeviceTokenSchema,
  );
}

/**
 * Client for the device routes, authenticated with a token from {@link authenticateDevice}.
 * @example const self = await new DeviceClient(transport, token).me();
 */
export class DeviceClient {
  constructor(
    private readonly transport: Transport,
    private readonly token: string,
  ) {}

  /** `GET /api/v1/device/me` — status, compliance, policy and pending commands. */
  me(): Promise<DeviceSelf> {
    return call(
      this.transport,
      { method: 'GET', path: '/api/v1/device/me', headers: { authorization: `Bearer ${this.token}` } },
      DeviceSelfSchema,
    );
  }

  /**
   * `POST /api/v1/device/posture` — reports what the device sees about itself; the answer is its
   * compliance after the server evaluated the report against the effective policy.
   * @example
   * const r = await client.reportPosture({ platform: 'ios', osVersion: '17.4', clientVersion: '1.0.0',
   *   passcodeSet: true, storageEncrypted: true, rooted: false });
   * r.compliance // 'compliant' | 'warning' | 'non-compliant'
   */
  reportPosture(report: PostureReport): Promise<ComplianceResult> {
    return call(
      this.transport,
      {
        method: 'POST',
        path: '/api/v1/device/posture',
        headers: { authorization: `Bearer ${this.token}` },
        body: report,
      },
      ComplianceResultSchema,
    );
  }
}
