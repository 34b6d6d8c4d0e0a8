import { webcrypto } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import {
  ActivationFinishResultSchema,
  ActivationGrantSchema,
  ActivationQrSchema,
  ActivationRequestSchema,
  ActivationStartResultSchema,
  type ActivationRequest,
  normalizeActivationPassword,
} from '@enclave/protocol';
import {
  activationChannel,
  createDeviceCsr,
  exportPkcs8,
  generateEd25519,
  isIssuedBy,
  parseCertificate,
  type x509,
} from '@enclave/crypto';
import { normalizeFingerprint, verifyCaChain } from './ca-chain.js';
import { requestBody } from './request-body.js';
import { ApiError, call, parseResponse, type Transport } from './transport.js';

/** What a device needs to activate. */
export interface ActivateDeviceOptions {
  /**
   * Carries the activation requests. TLS is not what makes activation safe (OPAQUE is), so an
   * unverified HTTPS transport is acceptable here.
   */
  transport: Transport;
  email: string;
  /** The one-time activation password; it never leaves this process (RFC 9807). */
  activationPassword: string;
  /** e.g. `node-linux`. */
  platform: string;
  clientVersion: string;
  deviceName?: string;
  /** Root CA fingerprint the operator gave (or the QR carried); a mismatch fails with `server_untrusted`. */
  expectedCaFingerprint?: string;
}

/** An activated device: its certificate, the enterprise CA it learned, and its own key. */
export interface ActivatedDevice {
  deviceId: string;
  certificatePem: string;
  /** Issuing CA first, root last. */
  chainPem: string[];
  /** SHA-256 of the root certificate's DER, lower-case hex. */
  caFingerprint: string;
  userEmail: string;
  /** The device's Ed25519 key pair (extractable, so it can be stored). */
  keyPair: CryptoKeyPair;
  /** PKCS#8 DER of the private key — store it encrypted where possible. */
  privateKeyPkcs8: Buffer;
}

/** The activation QR payload, parsed. */
export type ActivationQr = ReturnType<typeof ActivationQrSchema.parse>;

/**
 * Parses the payload of an activation QR code (JSON, {@link ActivationQrSchema}).
 * Throws {@link ApiError} `validation_failed` when it is not one.
 * @example const { server, email, password, caFingerprint } = parseActivationQr(scanned);
 */
export function parseActivationQr(payload: string): ActivationQr {
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    throw new ApiError(0, 'validation_failed', 'the activation QR payload is not JSON');
  }
  const parsed = ActivationQrSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') ?? '';
    throw new ApiError(
      0,
      'validation_failed',
      `the activation QR payload is not an Enclave activation code${field ? ` (${field}: ${issue?.message ?? 'invalid'})` : ''}`,
    );
  }
  return parsed.data;
}

function tryFinishLogin(clientLoginState: string, loginResponse: string, password: string) {
  try {
    return opaque.client.finishLogin({ clientLoginState, loginResponse, password });
  } catch {
    return undefined; // a malformed KE2 is treated like a record this password does not open
  }
}

async function spkiOf(publicKey: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('spki', publicKey));
}

/**
 * Activates a device (docs/API.md §Device activation): OPAQUE proves the activation password
 * without sending it, the CSR travels sealed under the OPAQUE session key, and the grant — device
 * certificate and enterprise CA chain — is verified before anything is returned:
 * the root's fingerprint equals the grant's (and `expectedCaFingerprint`, if given), the chain
 * holds together, the certificate is issued by the issuing CA, and it certifies our own key.
 *
 * Errors ({@link ApiError}): `activation_password_wrong` / `activation_locked` / `activation_expired`
 * from the server, `server_untrusted` when the CA does not match or the grant does not
 * authenticate, `certificate_invalid` when the certificate is not what was asked for.
 * @example
 * const device = await activateDevice({ transport: httpsTransport({ baseUrl, insecure: true }),
 *   email: 'alice@example.com', activationPassword, platform: 'node-linux', clientVersion: '0.1.0' });
 */
export async function activateDevice(opts: ActivateDeviceOptions): Promise<ActivatedDevice> {
  await opaque.ready;
  const keyPair = await generateEd25519();
  const request: ActivationRequest = requestBody(ActivationRequestSchema, {
    csr: await createDeviceCsr(keyPair, opts.deviceName?.trim() || 'enclave-device'),
    platform: opts.platform,
    clientVersion: opts.clientVersion,
    ...(opts.deviceName?.trim() ? { deviceName: opts.deviceName } : {}),
  });

  // RFC 9807 §6.3: KE1 — the password stays here; only the blinded element goes out.
  // What a person typed ("7kq3 m9xd …") becomes the exact bytes the server registered.
  const password = normalizeActivationPassword(opts.activationPassword);
  const { clientLoginState, startLoginRequest } = opaque.client.startLogin({ password });
  const start = await call(
    opts.transport,
    { method: 'POST', path: '/api/v1/activation/start', body: { email: opts.email, startLoginRequest } },
    ActivationStartResultSchema,
  );

  // One KE2 per live activation record of the user; the first that our password opens is ours.
  let index = -1;
  let login: ReturnType<typeof tryFinishLogin>;
  for (const [i, loginResponse] of start.loginResponses.entries()) {
    login = tryFinishLogin(clientLoginState, loginResponse, password);
    if (login) {
      index = i;
      break;
    }
  }
  if (!login || index < 0) {
    // The server counts the failed try and answers why (wrong password, or now locked).
    parseResponse(
      await opts.transport({
        method: 'POST',
        path: '/api/v1/activation/abort',
        body: { attemptId: start.attemptId },
      }),
    );
    throw new ApiError(401, 'activation_password_wrong', 'the activation password is wrong');
  }

  const channel = activationChannel(login.sessionKey, start.attemptId);
  const finish = await call(
    opts.transport,
    {
      method: 'POST',
      path: '/api/v1/activation/finish',
      body: {
        attemptId: start.attemptId,
        index,
        finishLoginRequest: login.finishLoginRequest,
        sealed: channel.sealToServer(request),
      },
    },
    ActivationFinishResultSchema,
  );

  let opened: unknown;
  try {
    opened = channel.openFromServer(finish.sealed);
  } catch {
    throw new ApiError(
      0,
      'server_untrusted',
      'the activation answer did not authenticate under the OPAQUE session key — it did not come from the server holding this activation password',
    );
  }
  const grantParsed = ActivationGrantSchema.safeParse(opened);
  if (!grantParsed.success)
    throw new ApiError(0, 'protocol_error', 'the activation grant has an unexpected shape');
  const grant = grantParsed.data;

  // The CA is learned over the OPAQUE channel, and must agree with itself and with the operator.
  const { certificates, caFingerprint } = await verifyCaChain(grant.chain, opts.expectedCaFingerprint);
  if (normalizeFingerprint(grant.caFingerprint) !== caFingerprint) {
    throw new ApiError(
      0,
      'server_untrusted',
      `the grant names CA fingerprint ${grant.caFingerprint} but its chain ends in ${caFingerprint}`,
    );
  }
  const issuing = certificates[0];
  let certificate: x509.X509Certificate;
  try {
    certificate = parseCertificate(grant.certificate);
  } catch {
    throw new ApiError(0, 'certificate_invalid', 'the device certificate does not parse as X.509');
  }
  if (!issuing || !(await isIssuedBy(certificate, issuing))) {
    throw new ApiError(
      0,
      'certificate_invalid',
      'the device certificate is not issued by the enterprise issuing CA, or is not valid now',
    );
  }
  const ours = await spkiOf(keyPair.publicKey);
  if (!ours.equals(Buffer.from(certificate.publicKey.rawData))) {
    throw new ApiError(0, 'certificate_invalid', "the device certificate does not certify this device's key");
  }

  return {
    deviceId: grant.deviceId,
    certificatePem: certificate.toString('pem'),
    chainPem: certificates.map((c) => c.toString('pem')),
    caFingerprint,
    userEmail: grant.userEmail,
    keyPair,
    privateKeyPkcs8: await exportPkcs8(keyPair.privateKey),
  };
}
