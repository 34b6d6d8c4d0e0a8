// The device's MLS signing identity: its enterprise Ed25519 key and certificate chain, so that the
// MLS signature key IS the key the enterprise CA certified (no second, uncertified key).
import type { CredentialX509 } from 'ts-mls';
import type { x509 } from '@enclave/crypto';
import {
  certificateDer,
  certificateFromDer,
  CredentialFormatError,
  ed25519PublicKeyOf,
  identityOfCertificate,
  type EnterpriseIdentity,
} from './enterprise-credential.js';

/** The device's key and certificates, as activation stored them. */
export interface DeviceCredentials {
  /** The device's Ed25519 private key, PKCS#8 DER (RFC 5958 / RFC 8410 §7). */
  privateKeyPkcs8: Uint8Array;
  /** Device certificate first, then the issuing CA (the root may follow); PEM, DER or parsed. */
  certificateChain: readonly (string | Uint8Array | x509.X509Certificate)[];
}

/** What the engine signs with and presents. */
export interface DeviceSigningIdentity {
  /** Raw 32-byte Ed25519 private key (the RFC 8032 seed). Never log or persist unsealed. */
  signingSeed: Uint8Array;
  /** Raw 32-byte Ed25519 public key, equal to the certificate's. */
  publicKey: Uint8Array;
  /** RFC 9420 §5.3: `x509` credential, `certificates[0]` the device certificate. */
  credential: CredentialX509;
  identity: EnterpriseIdentity;
  /** The device certificate's expiry; KeyPackage lifetimes do not outlast it. */
  notAfter: Date;
}

// RFC 8410 §7: an Ed25519 PKCS#8 v1 OneAsymmetricKey without attributes is this 16-byte header and
// the 32-byte seed wrapped in an OCTET STRING — 48 bytes in all.
const ED25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
const ED25519_PKCS8_BYTES = 48;

/**
 * Extracts the 32-byte Ed25519 seed from a PKCS#8 DER key after checking the whole structure (an
 * Ed25519 PKCS#8 v1 key is a fixed 16-byte header then the seed; anything else is refused).
 */
export function ed25519SeedFromPkcs8(pkcs8: Uint8Array): Uint8Array {
  if (!(pkcs8 instanceof Uint8Array) || pkcs8.length !== ED25519_PKCS8_BYTES)
    throw new CredentialFormatError('the device key is not a 48-byte Ed25519 PKCS#8 v1 key');
  for (let i = 0; i < ED25519_PKCS8_PREFIX.length; i++)
    if (pkcs8[i] !== ED25519_PKCS8_PREFIX[i])
      throw new CredentialFormatError('the device key is not an Ed25519 PKCS#8 v1 key');
  return pkcs8.slice(ED25519_PKCS8_PREFIX.length);
}

/**
 * Loads the device's signing identity and checks that the private key belongs to the device
 * certificate (a signature by the key verifies under the certificate's public key).
 * @example const id = await loadDeviceSigningIdentity({ privateKeyPkcs8, certificateChain: [devicePem, issuingPem] });
 */
export async function loadDeviceSigningIdentity(creds: DeviceCredentials): Promise<DeviceSigningIdentity> {
  const ders = creds.certificateChain.map((c) => certificateDer(c));
  const [leafDer] = ders;
  if (!leafDer || ders.length < 2)
    throw new CredentialFormatError('the chain must hold the device certificate and its issuing CA');
  const leaf = certificateFromDer(leafDer);
  const publicKey = ed25519PublicKeyOf(leaf);
  const signingSeed = ed25519SeedFromPkcs8(creds.privateKeyPkcs8);
  const subtle = globalThis.crypto.subtle;
  const probe = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const priv = await subtle.importKey('pkcs8', Uint8Array.from(creds.privateKeyPkcs8), 'Ed25519', false, [
    'sign',
  ]);
  const pub = await subtle.importKey('raw', new Uint8Array(publicKey), 'Ed25519', false, ['verify']);
  const sig = await subtle.sign('Ed25519', priv, probe);
  if (!(await subtle.verify('Ed25519', pub, sig, probe)))
    throw new CredentialFormatError('the device key does not match the device certificate');
  return {
    signingSeed,
    publicKey,
    credential: { credentialType: 'x509', certificates: ders },
    identity: identityOfCertificate(leaf),
    notAfter: leaf.notAfter,
  };
}
