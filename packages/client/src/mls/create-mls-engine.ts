// Building a device's MLS engine: the identity is checked before anything else can use it.
import { getCiphersuiteFromName, type CiphersuiteName } from 'ts-mls';
import {
  loadDeviceSigningIdentity,
  type DeviceCredentials,
  type DeviceSigningIdentity,
} from './device-signing-identity.js';
import {
  EnterpriseAuthenticationService,
  type EnterpriseTrust,
} from './enterprise-authentication-service.js';
import { MlsEngineError } from './mls-engine.js';
import { TsMlsEngine } from './ts-mls-engine.js';
import { ciphersuiteImpl, DEFAULT_CIPHER_SUITE } from './ts-mls-support.js';

/** How to build a {@link TsMlsEngine}. */
export interface TsMlsEngineOptions {
  /** The device's enterprise key and certificate chain; the MLS signature key is this key. */
  credentials: DeviceCredentials;
  /** The enterprise root and revocation check every credential is validated against. */
  trust: EnterpriseTrust;
  /** 32-byte key that seals `exportState` (AES-256-GCM). */
  storageKey: Uint8Array;
  /** Ed25519 suites only (the device key is Ed25519); default suite 1. */
  cipherSuite?: CiphersuiteName;
  /** KeyPackage lifetime, capped by the certificate's expiry (RFC 9420 §7.2). Default 90 days. */
  keyPackageLifetimeDays?: number;
}

/**
 * Creates an engine for one device. The identity is checked first: the private key must belong
 * to the device certificate, and the certificate must pass the enterprise AS itself.
 * @example
 * const engine = await createMlsEngine({
 *   credentials: { privateKeyPkcs8, certificateChain: [devicePem, issuingCaPem] },
 *   trust: { root: rootPem, isRevoked: (serial) => revokedSerials.has(serial) },
 *   storageKey,
 * });
 */
export async function createMlsEngine(opts: TsMlsEngineOptions): Promise<TsMlsEngine> {
  if (!(opts.storageKey instanceof Uint8Array) || opts.storageKey.length !== 32)
    throw new TypeError('storageKey must be 32 bytes');
  const suite = getCiphersuiteFromName(opts.cipherSuite ?? DEFAULT_CIPHER_SUITE);
  if (suite.signature !== 'Ed25519')
    throw new TypeError(`cipher suite ${suite.name} does not sign with Ed25519`);
  let identity: DeviceSigningIdentity;
  const as = new EnterpriseAuthenticationService(opts.trust);
  try {
    identity = await loadDeviceSigningIdentity(opts.credentials);
    await as.verify(identity.credential, identity.publicKey);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new MlsEngineError('invalid_identity', `the device identity is unusable: ${why}`, { cause });
  }
  return new TsMlsEngine(identity, as, await ciphersuiteImpl(suite), Uint8Array.from(opts.storageKey), {
    lifetimeDays: opts.keyPackageLifetimeDays ?? 90,
    now: opts.trust.now ?? (() => new Date()),
  });
}
