// Reading an MLS `x509` credential (RFC 9420 §5.3) as an enterprise device certificate chain.
// Parsing only: trust decisions are in enterprise-authentication-service.ts.
import { certificateFingerprint, x509 } from '@enclave/crypto';
import type { Credential } from 'ts-mls';

/** Who a device certificate names. */
export interface EnterpriseIdentity {
  deviceId: string;
  email: string;
  /** From `URI:urn:enclave:user:<id>` when the certificate has one. */
  userId?: string;
  /** SHA-256 of the device certificate's DER, lower-case hex. */
  certificateFingerprint: string;
  /** The certificate serial number, lower-case hex as `@peculiar/x509` prints it. */
  serialNumber: string;
}

/** Why a credential does not read as an enterprise device credential. */
export class CredentialFormatError extends Error {
  override name = 'CredentialFormatError';
}

const DEVICE_URN = 'urn:enclave:device:';
const USER_URN = 'urn:enclave:user:';
// RFC 8410 §4: SubjectPublicKeyInfo of an Ed25519 key is this 12-byte header and the 32-byte key.
const ED25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
]);
const ED25519_KEY_BYTES = 32;
const PARSE_CACHE_LIMIT = 4096;
const parsed = new Map<string, x509.X509Certificate>();

/** Equal bytes (public values only — this is not constant-time). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Parses a DER certificate, memoised by its bytes: every commit re-validates leaves, and a group
 * of a thousand members should not re-parse a thousand chains each time.
 */
export function certificateFromDer(der: Uint8Array): x509.X509Certificate {
  const key = Buffer.from(der).toString('base64');
  const hit = parsed.get(key);
  if (hit) return hit;
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(Uint8Array.from(der));
  } catch (cause) {
    throw new CredentialFormatError('a certificate in the credential does not parse as X.509', { cause });
  }
  if (parsed.size >= PARSE_CACHE_LIMIT) parsed.clear();
  parsed.set(key, cert);
  return cert;
}

/** A certificate given as PEM, DER or parsed, as DER bytes. */
export function certificateDer(cert: string | Uint8Array | x509.X509Certificate): Uint8Array {
  if (cert instanceof Uint8Array) return Uint8Array.from(cert);
  const c = typeof cert === 'string' ? new x509.X509Certificate(cert) : cert;
  return new Uint8Array(c.rawData);
}

/**
 * The raw 32-byte Ed25519 public key a certificate certifies (RFC 8410 §4), or throws if the key
 * is not Ed25519.
 */
export function ed25519PublicKeyOf(cert: x509.X509Certificate): Uint8Array {
  const spki = new Uint8Array(cert.publicKey.rawData);
  const header = spki.subarray(0, ED25519_SPKI_PREFIX.length);
  if (
    spki.length !== ED25519_SPKI_PREFIX.length + ED25519_KEY_BYTES ||
    !bytesEqual(header, ED25519_SPKI_PREFIX)
  )
    throw new CredentialFormatError('the certificate key is not Ed25519');
  return spki.slice(ED25519_SPKI_PREFIX.length);
}

/** The device and user a device certificate names (SAN email and device URN; CN must agree). */
export function identityOfCertificate(cert: x509.X509Certificate): EnterpriseIdentity {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.toJSON() ?? [];
  const emails = names.filter((n) => n.type === 'email').map((n) => n.value);
  const urls = names.filter((n) => n.type === 'url').map((n) => n.value);
  const deviceIds = urls.filter((u) => u.startsWith(DEVICE_URN)).map((u) => u.slice(DEVICE_URN.length));
  const userIds = urls.filter((u) => u.startsWith(USER_URN)).map((u) => u.slice(USER_URN.length));
  const [email] = emails;
  const [deviceId] = deviceIds;
  if (emails.length !== 1 || !email)
    throw new CredentialFormatError('the certificate must name exactly one email');
  if (deviceIds.length !== 1 || !deviceId)
    throw new CredentialFormatError('the certificate must name exactly one device (urn:enclave:device:…)');
  const cn = cert.subjectName.getField('CN');
  if (cn.length > 0 && !cn.includes(deviceId))
    throw new CredentialFormatError('the certificate CN does not match its device URN');
  return {
    deviceId,
    email: email.toLowerCase(),
    ...(userIds.length === 1 && userIds[0] ? { userId: userIds[0] } : {}),
    certificateFingerprint: certificateFingerprint(cert),
    serialNumber: cert.serialNumber.toLowerCase(),
  };
}

/** The certificates of an `x509` credential, leaf first (RFC 9420 §5.3: `certificates[0]` is the leaf). */
export function certificatesOf(credential: Credential): x509.X509Certificate[] {
  if (credential.credentialType !== 'x509')
    throw new CredentialFormatError('the credential is not of type x509');
  if (credential.certificates.length === 0) throw new CredentialFormatError('the x509 credential is empty');
  return credential.certificates.map((der) => certificateFromDer(der));
}

/** Who an `x509` credential's leaf certificate names — parsing only, no trust decision. */
export function identityOfCredential(credential: Credential): EnterpriseIdentity {
  const [leaf] = certificatesOf(credential);
  if (!leaf) throw new CredentialFormatError('the x509 credential is empty');
  return identityOfCertificate(leaf);
}
