// Test-only: an in-memory stand-in for the activation and device-auth routes of the server,
// built from the same crypto and OPAQUE library the real server uses.
import { randomUUID } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import {
  ActivationRequestSchema,
  deviceAuthSigningInput,
  normalizeActivationPassword,
  POLICY_DEFAULTS,
} from '@enclave/protocol';
import {
  activationChannel,
  certificateFingerprint,
  createDeviceCsr,
  createEnterpriseCa,
  generateEd25519,
  issueDeviceCertificate,
  verifyWithCertificate,
  type Issuer,
  type x509,
} from '@enclave/crypto';
import type { Transport, TransportRequest, TransportResponse } from '../transport.js';

/** How the fake misbehaves, to test the device's checks. */
export type FakeTamper = 'none' | 'foreign-key' | 'wrong-fingerprint' | 'garbage-seal';

/** Who the fake knows: one user and one activation record per password. */
export interface FakeServerOptions {
  email: string;
  /** One activation record per password. */
  passwords: string[];
  tamper?: FakeTamper;
}

/** The fake, its CA, and what it saw. */
export interface FakeServer {
  transport: Transport;
  caFingerprint: string;
  root: Issuer;
  issuing: Issuer;
  calls: TransportRequest[];
  devices: Map<string, { certificate: x509.X509Certificate; revoked: boolean }>;
}

function json(status: number, body: unknown): TransportResponse {
  return { status, headers: { 'content-type': 'application/json' }, text: JSON.stringify(body) };
}
function error(status: number, code: string, message: string): TransportResponse {
  return json(status, { error: { code, message } });
}

/** Builds the fake. Registration runs both OPAQUE roles, as the real server does for activation passwords. */
export async function createFakeServer(opts: FakeServerOptions): Promise<FakeServer> {
  await opaque.ready;
  const serverSetup = opaque.server.createSetup();
  const userId = randomUUID();
  // Like the real server, the fake registers the canonical form (normalizeActivationPassword).
  const records = opts.passwords.map(normalizeActivationPassword).map((password) => {
    const { clientRegistrationState, registrationRequest } = opaque.client.startRegistration({ password });
    const { registrationResponse } = opaque.server.createRegistrationResponse({
      serverSetup,
      userIdentifier: userId,
      registrationRequest,
    });
    return opaque.client.finishRegistration({ password, registrationResponse, clientRegistrationState })
      .registrationRecord;
  });
  const { root, issuing } = await createEnterpriseCa('Test Org');
  const caFingerprint = certificateFingerprint(root.certificate);
  const attempts = new Map<string, string[]>();
  const challenges = new Map<string, { nonce: string; deviceId: string }>();
  const devices: FakeServer['devices'] = new Map();
  const tokens = new Map<string, string>();
  const calls: TransportRequest[] = [];
  const tamper = opts.tamper ?? 'none';

  const transport: Transport = async (req) => {
    calls.push(req);
    const body = (req.body ?? {}) as Record<string, string | number>;
    switch (`${req.method} ${req.path}`) {
      case 'POST /api/v1/activation/start': {
        if (body.email !== opts.email) return error(401, 'activation_password_wrong', 'no live activation');
        const attemptId = randomUUID();
        const states: string[] = [];
        const loginResponses = records.map((registrationRecord) => {
          const r = opaque.server.startLogin({
            serverSetup,
            registrationRecord,
            startLoginRequest: String(body.startLoginRequest),
            userIdentifier: userId,
          });
          states.push(r.serverLoginState);
          return r.loginResponse;
        });
        attempts.set(attemptId, states);
        return json(200, { attemptId, loginResponses });
      }
      case 'POST /api/v1/activation/abort':
        return error(401, 'activation_password_wrong', 'the activation password is wrong');
      case 'POST /api/v1/activation/finish': {
        const attemptId = String(body.attemptId);
        const state = attempts.get(attemptId)?.[Number(body.index)];
        if (!state) return error(401, 'activation_session_invalid', 'unknown attempt');
        const { sessionKey } = opaque.server.finishLogin({
          serverLoginState: state,
          finishLoginRequest: String(body.finishLoginRequest),
        });
        const channel = activationChannel(sessionKey, attemptId);
        const request = ActivationRequestSchema.parse(channel.openFromDevice(String(body.sealed)));
        const deviceId = randomUUID();
        const csrPem =
          tamper === 'foreign-key' ? await createDeviceCsr(await generateEd25519(), 'other') : request.csr;
        const certificate = await issueDeviceCertificate(issuing, {
          csrPem,
          deviceId,
          userId,
          email: opts.email,
          organization: 'Test Org',
          validityDays: 365,
        });
        devices.set(deviceId, { certificate, revoked: false });
        const grant = {
          deviceId,
          certificate: certificate.toString('pem'),
          chain: [issuing.certificate.toString('pem'), root.certificate.toString('pem')],
          caFingerprint: tamper === 'wrong-fingerprint' ? 'ab'.repeat(32) : caFingerprint,
          userEmail: opts.email,
        };
        return json(200, {
          sealed:
            tamper === 'garbage-seal'
              ? 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
              : channel.sealToDevice(grant),
        });
      }
      case 'POST /api/v1/device-auth/challenge': {
        const deviceId = String(body.deviceId);
        if (!devices.has(deviceId)) return error(404, 'device_not_found', 'no such device');
        const challengeId = randomUUID();
        const nonce = randomUUID();
        challenges.set(challengeId, { nonce, deviceId });
        return json(200, { challengeId, nonce, expiresAt: new Date(Date.now() + 60_000).toISOString() });
      }
      case 'POST /api/v1/device-auth/token': {
        const c = challenges.get(String(body.challengeId));
        const device = c && devices.get(c.deviceId);
        if (!c || !device) return error(401, 'challenge_invalid', 'unknown challenge');
        const input = Buffer.from(
          deviceAuthSigningInput(String(body.challengeId), c.nonce, c.deviceId),
          'utf8',
        );
        if (
          !(await verifyWithCertificate(
            device.certificate,
            input,
            Buffer.from(String(body.signature), 'base64url'),
          ))
        ) {
          return error(401, 'signature_invalid', 'bad signature');
        }
        if (device.revoked) return error(403, 'device_revoked', 'this device has been revoked');
        const token = randomUUID();
        tokens.set(token, c.deviceId);
        return json(200, {
          token,
          expiresAt: new Date(Date.now() + 3600_000).toISOString(),
          deviceId: c.deviceId,
        });
      }
      case 'GET /api/v1/device/me': {
        const deviceId = tokens.get((req.headers?.authorization ?? '').replace(/^Bearer /, ''));
        if (!deviceId) return error(401, 'unauthenticated', 'no token');
        return json(200, {
          deviceId,
          userEmail: opts.email,
          status: devices.get(deviceId)?.revoked ? 'revoked' : 'active',
          compliance: 'unknown',
          policy: {
            id: '00000000-0000-4000-8000-00000000d0d0',
            name: 'Default',
            version: 1,
            document: POLICY_DEFAULTS,
            source: { kind: 'default' },
          },
          commands: [],
        });
      }
      case 'POST /api/v1/device/posture': {
        const deviceId = tokens.get((req.headers?.authorization ?? '').replace(/^Bearer /, ''));
        if (!deviceId) return error(401, 'unauthenticated', 'no token');
        // Just enough of the rules for CLI tests: a missing passcode is a warning.
        const r = req.body as { passcodeSet?: boolean };
        const at = new Date().toISOString();
        const reasons = r.passcodeSet
          ? []
          : [
              {
                code: 'passcode_not_set',
                message: 'the policy requires a passcode',
                since: at,
                action: 'block_messaging',
                enforceAt: at,
                enforcedAt: null,
              },
            ];
        return json(200, {
          compliance: reasons.length ? 'warning' : 'compliant',
          reasons,
          messagingBlocked: false,
          quarantined: false,
          evaluatedAt: at,
        });
      }
      default:
        return error(404, 'not_found', `no route ${req.method} ${req.path}`);
    }
  };
  return { transport, caFingerprint, root, issuing, calls, devices };
}
