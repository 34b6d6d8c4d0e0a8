import 'reflect-metadata'; // @peculiar/x509 uses tsyringe, which needs the Reflect polyfill loaded first
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto); // node:crypto's WebCrypto is a full Crypto; the DOM type differs only nominally

const ED25519 = { name: 'Ed25519' } as const;
const P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

/** A certificate with the private key that signs under it. */
export interface Issuer {
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
}

/** Generates an extractable Ed25519 key pair (RFC 8032). */
export async function generateEd25519(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** PKCS#8 DER of a private key — callers must seal it before it touches a disk. */
export async function exportPkcs8(key: CryptoKey): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
}

/** Imports a PKCS#8 private key of the given kind (`ed25519` for CA and device keys, `p256` for TLS). */
export async function importPkcs8(der: Uint8Array, kind: 'ed25519' | 'p256'): Promise<CryptoKey> {
  const alg = kind === 'ed25519' ? ED25519 : P256;
  return webcrypto.subtle.importKey('pkcs8', new Uint8Array(der), alg, false, ['sign']);
}

/** PEM armour for a PKCS#8 DER key (used only to hand a TLS key to node:tls in memory). */
export function pkcs8Pem(der: Uint8Array): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64.trimEnd()}\n-----END PRIVATE KEY-----\n`;
}

/** SHA-256 of a certificate's DER, lower-case hex: the enterprise CA fingerprint operators compare. */
export function certificateFingerprint(cert: x509.X509Certificate | string): string {
  const c = typeof cert === 'string' ? new x509.X509Certificate(cert) : cert;
  return createHash('sha256').update(Buffer.from(c.rawData)).digest('hex');
}

/** Parses a PEM (or base64 DER) certificate. */
export function parseCertificate(pem: string): x509.X509Certificate {
  return new x509.X509Certificate(pem);
}

/** Random positive 128-bit serial number, hex (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
export function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x10;
  return b.toString('hex');
}

function validity(days: number, now: Date): { notBefore: Date; notAfter: Date } {
  // Back-date a little so a device whose clock runs slightly behind still accepts the certificate.
  return {
    notBefore: new Date(now.getTime() - 5 * 60_000),
    notAfter: new Date(now.getTime() + days * DAY_MS),
  };
}

function nameOf(parts: Record<string, string>): x509.JsonName {
  return Object.entries(parts).map(([k, v]) => ({ [k]: [v] }));
}

/** Creates the enterprise root CA (Ed25519, 20 years) and an issuing CA under it (5 years, pathLen 0). */
export async function createEnterpriseCa(
  organization: string,
  now = new Date(),
): Promise<{ root: Issuer; issuing: Issuer }> {
  const rootKeys = await generateEd25519();
  const rootName = nameOf({ CN: `${organization} Enclave Root CA`, O: organization });
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: rootName,
    ...validity(20 * 365, now),
    keys: rootKeys,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  const issuingKeys = await generateEd25519();
  const issuingCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: nameOf({ CN: `${organization} Enclave Issuing CA`, O: organization }),
    issuer: rootCert.subject,
    ...validity(5 * 365, now),
    publicKey: issuingKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(issuingKeys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
    ],
  });
  return {
    root: { certificate: rootCert, privateKey: rootKeys.privateKey },
    issuing: { certificate: issuingCert, privateKey: issuingKeys.privateKey },
  };
}

/**
 * Issues the server's TLS certificate. Its key is ECDSA P-256 (browsers do not accept Ed25519 in
 * TLS), signed by the Ed25519 issuing CA.
 */
export async function issueServerCertificate(
  issuing: Issuer,
  hosts: readonly string[],
  now = new Date(),
): Promise<{ certificate: x509.X509Certificate; privateKeyPkcs8: Buffer }> {
  const keys = await webcrypto.subtle.generateKey(P256, true, ['sign', 'verify']);
  const names = hosts.map((h) =>
    /^[\d.]+$|:/.test(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h },
  );
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: nameOf({ CN: hosts[0] ?? 'localhost' }),
    issuer: issuing.certificate.subject,
    ...validity(397, now),
    publicKey: keys.publicKey,
    signingKey: issuing.privateKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.AuthorityKeyIdentifierExtension.create(issuing.certificate.publicKey),
    ],
  });
  return { certificate, privateKeyPkcs8: await exportPkcs8(keys.privateKey) };
}

/**
 * Issues the server's command-signing certificate: an Ed25519 key certified by the issuing CA, marked
 * by the SAN URI `urn:enclave:command-signer`, so a device can tell a command signer from any other
 * certificate the same CA issued.
 */
export async function issueCommandSignerCertificate(
  issuing: Issuer,
  organization: string,
  now = new Date(),
): Promise<{ certificate: x509.X509Certificate; privateKeyPkcs8: Buffer }> {
  const keys = await generateEd25519();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: nameOf({ CN: `${organization} Enclave Command Signer`, O: organization }),
    issuer: issuing.certificate.subject,
    ...validity(2 * 365, now),
    publicKey: keys.publicKey,
    signingKey: issuing.privateKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'urn:enclave:command-signer' }]),
      await x509.AuthorityKeyIdentifierExtension.create(issuing.certificate.publicKey),
    ],
  });
  return { certificate, privateKeyPkcs8: await exportPkcs8(keys.privateKey) };
}

/** True when `cert` carries the SAN URI `uri`. */
export function hasSanUri(cert: x509.X509Certificate, uri: string): boolean {
  const san = cert.getExtension<x509.SubjectAlternativeNameExtension>('2.5.29.17');
  return (san?.names.items ?? []).some((n) => n.type === 'url' && n.value === uri);
}

/** Thrown when a CSR is malformed, not Ed25519, or its signature (proof of possession) fails. */
export class CsrError extends Error {
  override name = 'CsrError';
}

/**
 * Checks a device CSR: it parses, its key is Ed25519, and it is signed by that key (proof of
 * possession, RFC 2986 §3). Returns the public key to certify.
 */
export async function verifyDeviceCsr(csrPem: string): Promise<x509.PublicKey> {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch {
    throw new CsrError('the CSR is not a PKCS#10 request');
  }
  if (csr.publicKey.algorithm.name !== 'Ed25519') throw new CsrError('the CSR key must be Ed25519');
  if (!(await csr.verify())) throw new CsrError('the CSR signature does not verify (no proof of possession)');
  return csr.publicKey;
}

export interface DeviceCertificateRequest {
  csrPem: string;
  deviceId: string;
  userId: string;
  email: string;
  organization: string;
  validityDays: number;
}

/**
 * Issues a device certificate: Ed25519, subject `CN=<deviceId>, E=<email>, O=<org>`, SAN with the
 * email and `urn:enclave:device:<id>` / `urn:enclave:user:<id>`, EKU clientAuth.
 */
export async function issueDeviceCertificate(
  issuing: Issuer,
  req: DeviceCertificateRequest,
  now = new Date(),
): Promise<x509.X509Certificate> {
  const publicKey = await verifyDeviceCsr(req.csrPem);
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: nameOf({ CN: req.deviceId, E: req.email, O: req.organization }),
    issuer: issuing.certificate.subject,
    ...validity(req.validityDays, now),
    publicKey,
    signingKey: issuing.privateKey,
    signingAlgorithm: ED25519,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'email', value: req.email },
        { type: 'url', value: `urn:enclave:device:${req.deviceId}` },
        { type: 'url', value: `urn:enclave:user:${req.userId}` },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(issuing.certificate.publicKey),
    ],
  });
}

/** RFC 5280 §5.3.1 reason code used when an administrator revokes a device. */
export const CRL_REASON_CESSATION = x509.X509CrlReason.cessationOfOperation;

/**
 * Builds the issuing CA's CRL (RFC 5280 §5) and returns it PEM-armoured with the `X509 CRL` label
 * OpenSSL expects, and as DER.
 */
export async function createCrl(
  issuing: Issuer,
  entries: readonly { serial: string; revokedAt: Date }[],
  crlNumber: number,
  now = new Date(),
): Promise<{ pem: string; der: Buffer }> {
  const crl = await x509.X509CrlGenerator.create({
    issuer: issuing.certificate.subject,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + DAY_MS),
    // A reason code is always set: an entry with an empty extension list is not valid DER.
    entries: entries.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revokedAt,
      reason: CRL_REASON_CESSATION,
    })),
    extensions: [
      await x509.AuthorityKeyIdentifierExtension.create(issuing.certificate.publicKey),
      new x509.Extension('2.5.29.20', false, derInteger(crlNumber)), // cRLNumber, RFC 5280 §5.2.3
    ],
    signingKey: issuing.privateKey,
    signingAlgorithm: ED25519,
  });
  const der = Buffer.from(crl.rawData);
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return { pem: `-----BEGIN X509 CRL-----\n${b64}\n-----END X509 CRL-----\n`, der };
}

function derInteger(n: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError('CRL number must be a non-negative integer');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Uint8Array.from([0x02, bytes.length, ...bytes]);
}

/** Verifies that `leaf` was signed by `issuer` and is valid at `at`. */
export async function isIssuedBy(
  leaf: x509.X509Certificate,
  issuer: x509.X509Certificate,
  at = new Date(),
): Promise<boolean> {
  if (at < leaf.notBefore || at > leaf.notAfter) return false;
  return leaf.verify({ publicKey: issuer.publicKey, signatureOnly: true });
}

/** Verifies an Ed25519 signature by the key in `cert` over `data`. */
export async function verifyWithCertificate(
  cert: x509.X509Certificate,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  if (signature.length !== 64) return false; // RFC 8032 §5.1.6: Ed25519 signatures are 64 bytes
  const key = await cert.publicKey.export(ED25519, ['verify'], webcrypto as unknown as Crypto);
  return webcrypto.subtle.verify(ED25519, key, signature, data);
}

/** Signs `data` with an Ed25519 private key. */
export async function signEd25519(privateKey: CryptoKey, data: Uint8Array): Promise<Buffer> {
  return Buffer.from(await webcrypto.subtle.sign(ED25519, privateKey, new Uint8Array(data)));
}

/** Creates a CSR for the device's own key (the device side of activation). */
export async function createDeviceCsr(keys: CryptoKeyPair, commonName: string): Promise<string> {
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: nameOf({ CN: commonName }),
    keys,
    signingAlgorithm: ED25519,
  });
  return csr.toString('pem');
}

export { x509 };
