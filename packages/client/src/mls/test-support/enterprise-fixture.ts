// Test-only: a throw-away enterprise PKI (root → issuing CA → device certificates) and MLS engines
// for its devices, built with the same helpers the server uses to issue real certificates.
import { randomBytes } from 'node:crypto';
import {
  createDeviceCsr,
  createEnterpriseCa,
  exportPkcs8,
  generateEd25519,
  issueDeviceCertificate,
  randomSerial,
  x509,
  type Issuer,
} from '@enclave/crypto';
import type { EnterpriseTrust } from '../enterprise-authentication-service.js';
import { createMlsEngine } from '../create-mls-engine.js';
import type { TsMlsEngine } from '../ts-mls-engine.js';

/** An enterprise CA with a revocation set the trust callback reads. */
export interface TestEnterprise {
  organization: string;
  root: Issuer;
  issuing: Issuer;
  rootPem: string;
  issuingPem: string;
  /** Serials (lower-case hex) the `trust.isRevoked` callback reports as revoked. */
  revoked: Set<string>;
  trust: EnterpriseTrust;
}

/** A device with its key and certificate chain. */
export interface TestDevice {
  deviceId: string;
  email: string;
  keys: CryptoKeyPair;
  privateKeyPkcs8: Uint8Array;
  certificate: x509.X509Certificate;
  /** Device certificate PEM, then the issuing CA PEM. */
  chain: string[];
  enterprise: TestEnterprise;
}

/** Creates a root and issuing CA for `organization`. */
export async function createTestEnterprise(organization = 'Acme'): Promise<TestEnterprise> {
  const { root, issuing } = await createEnterpriseCa(organization);
  const revoked = new Set<string>();
  const rootPem = root.certificate.toString('pem');
  return {
    organization,
    root,
    issuing,
    rootPem,
    issuingPem: issuing.certificate.toString('pem'),
    revoked,
    trust: { root: rootPem, isRevoked: (serial) => revoked.has(serial) },
  };
}

/** Issues a device certificate (optionally for an existing key, e.g. a renewal). */
export async function issueTestDevice(
  ent: TestEnterprise,
  opts: { deviceId: string; email: string; keys?: CryptoKeyPair; validityDays?: number; now?: Date },
): Promise<TestDevice> {
  const keys = opts.keys ?? (await generateEd25519());
  const certificate = await issueDeviceCertificate(
    ent.issuing,
    {
      csrPem: await createDeviceCsr(keys, opts.deviceId),
      deviceId: opts.deviceId,
      userId: `user-${opts.email}`,
      email: opts.email,
      organization: ent.organization,
      validityDays: opts.validityDays ?? 365,
    },
    opts.now,
  );
  return {
    deviceId: opts.deviceId,
    email: opts.email,
    keys,
    privateKeyPkcs8: new Uint8Array(await exportPkcs8(keys.privateKey)),
    certificate,
    chain: [certificate.toString('pem'), ent.issuingPem],
    enterprise: ent,
  };
}

/** A self-signed certificate that names a device like a real one does — but no CA issued it. */
export async function selfSignedDeviceCertificate(
  keys: CryptoKeyPair,
  deviceId: string,
  email: string,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [deviceId] }, { E: [email] }],
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: { name: 'Ed25519' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension([
        { type: 'email', value: email },
        { type: 'url', value: `urn:enclave:device:${deviceId}` },
      ]),
    ],
  });
}

/** An engine for `device` trusting its own enterprise, with a fresh storage key. */
export async function createTestEngine(
  device: TestDevice,
  opts: { storageKey?: Uint8Array; trust?: EnterpriseTrust } = {},
): Promise<{ engine: TsMlsEngine; storageKey: Uint8Array }> {
  const storageKey = opts.storageKey ?? new Uint8Array(randomBytes(32));
  const engine = await createMlsEngine({
    credentials: { privateKeyPkcs8: device.privateKeyPkcs8, certificateChain: device.chain },
    trust: opts.trust ?? device.enterprise.trust,
    storageKey,
  });
  return { engine, storageKey };
}
