// The strict Authentication Service (RFC 9420 §5.3.1) for Enclave: a credential is the enterprise
// CA's word that this signature key belongs to this device of this user, or it is nothing.
// ts-mls 1.6.4's default AS accepts every credential; this one replaces it.
import { certificateFingerprint, x509 } from '@enclave/crypto';
import type { AuthenticationService, Credential } from 'ts-mls';
import {
  bytesEqual,
  certificateDer,
  certificateFromDer,
  certificatesOf,
  CredentialFormatError,
  ed25519PublicKeyOf,
  identityOfCertificate,
  identityOfCredential,
  type EnterpriseIdentity,
} from './enterprise-credential.js';

/** What the device trusts: its enterprise root, the revocation list, and a clock. */
export interface EnterpriseTrust {
  /** The enterprise root CA (PEM, DER or parsed) — compared by SHA-256 fingerprint. */
  root: string | Uint8Array | x509.X509Certificate;
  /**
   * True when the device certificate with this serial (lower-case hex, as `@peculiar/x509` prints
   * `serialNumber`) is revoked, e.g. listed in the issuing CA's current CRL.
   */
  isRevoked(serialHex: string): boolean | Promise<boolean>;
  /** Clock for validity checks; defaults to the system clock. */
  now?: () => Date;
}

/** Why a credential was refused. */
export type CredentialRejectReason =
  | 'malformed'
  | 'not_x509'
  | 'chain_incomplete'
  | 'untrusted_chain'
  | 'not_a_ca'
  | 'leaf_is_ca'
  | 'not_yet_valid'
  | 'expired'
  | 'revoked'
  | 'key_mismatch';

/** A credential the enterprise does not vouch for, with the reason. */
export class CredentialRejectedError extends Error {
  constructor(
    readonly reason: CredentialRejectReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CredentialRejectedError';
  }
}

const MAX_CHAIN = 4;
const SIGNATURE_CACHE_LIMIT = 8192;

/**
 * Accepts an MLS credential only if it is an `x509` chain from a device certificate up to the
 * enterprise root this device trusts, every certificate is valid now, the device certificate is
 * not revoked, its Ed25519 key is the leaf's MLS signature key, and it names one device and one
 * user (RFC 9420 §5.3.1 leaves all of this to the application's AS).
 * @example
 * const as = new EnterpriseAuthenticationService({ root: rootPem, isRevoked: (s) => crl.has(s) });
 * const who = await as.verify(leafNode.credential, leafNode.signaturePublicKey);
 */
export class EnterpriseAuthenticationService implements AuthenticationService {
  readonly rootFingerprint: string;
  /** The reason of the most recent refusal, for error messages (ts-mls only sees `false`). */
  lastRejection: CredentialRejectedError | undefined;
  private readonly root: x509.X509Certificate;
  private readonly verifiedSignatures = new Set<string>();

  constructor(private readonly trust: EnterpriseTrust) {
    this.root = certificateFromDer(certificateDer(trust.root));
    this.rootFingerprint = certificateFingerprint(this.root);
  }

  /** ts-mls hook (RFC 9420 §5.3.1): never throws, answers whether the credential is acceptable. */
  async validateCredential(credential: Credential, signaturePublicKey: Uint8Array): Promise<boolean> {
    try {
      await this.verify(credential, signaturePublicKey);
      return true;
    } catch (err) {
      if (!(err instanceof CredentialRejectedError)) throw err;
      this.lastRejection = err;
      return false;
    }
  }

  /**
   * Verifies a credential and returns who it names; throws {@link CredentialRejectedError}.
   */
  async verify(credential: Credential, signaturePublicKey: Uint8Array): Promise<EnterpriseIdentity> {
    if (credential.credentialType !== 'x509')
      throw new CredentialRejectedError(
        'not_x509',
        `credential type ${credential.credentialType} is not accepted`,
      );
    let chain: x509.X509Certificate[];
    let identity: EnterpriseIdentity;
    let leafKey: Uint8Array;
    try {
      chain = certificatesOf(credential);
      const [leaf] = chain;
      if (!leaf) throw new CredentialFormatError('empty chain');
      identity = identityOfCertificate(leaf);
      leafKey = ed25519PublicKeyOf(leaf);
    } catch (cause) {
      if (cause instanceof CredentialFormatError)
        throw new CredentialRejectedError('malformed', cause.message, { cause });
      throw cause;
    }
    // RFC 9420 §5.3.1: the credential's key must be the one the leaf signs with.
    if (!bytesEqual(leafKey, signaturePublicKey))
      throw new CredentialRejectedError('key_mismatch', 'the certificate key is not the leaf signature key');
    await this.verifyChain(chain);
    if (await this.trust.isRevoked(identity.serialNumber))
      throw new CredentialRejectedError('revoked', `device ${identity.deviceId}'s certificate is revoked`);
    return identity;
  }

  /**
   * RFC 9420 §5.3.1: a member's new credential (leaf update or commit path) must be a valid
   * successor of the old one — here, the same user and the same device.
   */
  isValidSuccessor(previous: Credential, next: Credential): boolean {
    try {
      const a = identityOfCredential(previous);
      const b = identityOfCredential(next);
      return a.email === b.email && a.deviceId === b.deviceId;
    } catch {
      return false;
    }
  }

  // RFC 5280 §6.1 path validation, reduced to what the enterprise PKI issues: leaf ← intermediates
  // (the issuing CA) ← the pinned root.
  private async verifyChain(chain: x509.X509Certificate[]): Promise<void> {
    const now = this.trust.now?.() ?? new Date();
    if (chain.length > MAX_CHAIN)
      throw new CredentialRejectedError('untrusted_chain', 'the chain is too long');
    // A copy of the root at the end of the chain is allowed; it must be byte-identical.
    const last = chain[chain.length - 1];
    const path =
      chain.length > 1 && last && certificateFingerprint(last) === this.rootFingerprint
        ? chain.slice(0, -1)
        : chain;
    const [leaf] = path;
    if (!leaf) throw new CredentialRejectedError('chain_incomplete', 'the chain has no device certificate');
    if (leaf.getExtension(x509.BasicConstraintsExtension)?.ca)
      throw new CredentialRejectedError('leaf_is_ca', 'a CA certificate cannot be a device credential');
    for (const [i, cert] of [...path, this.root].entries()) {
      if (now < cert.notBefore)
        throw new CredentialRejectedError('not_yet_valid', `certificate ${i} is not valid yet`);
      if (now > cert.notAfter) throw new CredentialRejectedError('expired', `certificate ${i} has expired`);
      if (i > 0) {
        const bc = cert.getExtension(x509.BasicConstraintsExtension);
        const ku = cert.getExtension(x509.KeyUsagesExtension);
        if (!bc?.ca || (ku && !(ku.usages & x509.KeyUsageFlags.keyCertSign)))
          throw new CredentialRejectedError('not_a_ca', `certificate ${i} is not a CA`);
      }
    }
    for (let i = 0; i < path.length; i++) {
      const cert = path[i];
      const issuer = path[i + 1] ?? this.root;
      if (!cert || !(await this.isSignedBy(cert, issuer)))
        throw new CredentialRejectedError(
          'untrusted_chain',
          i + 1 < path.length
            ? `certificate ${i} is not issued by certificate ${i + 1}`
            : `the chain does not lead to the enterprise root ${this.rootFingerprint}`,
        );
    }
  }

  // Signatures never change, so a verified (certificate, issuer) pair is remembered; validity and
  // revocation are checked on every call.
  private async isSignedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
    if (cert.issuer !== issuer.subject) return false;
    const key = `${certificateFingerprint(cert)}:${certificateFingerprint(issuer)}`;
    if (this.verifiedSignatures.has(key)) return true;
    let ok: boolean;
    try {
      ok = await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
    } catch {
      ok = false;
    }
    if (ok) {
      if (this.verifiedSignatures.size >= SIGNATURE_CACHE_LIMIT) this.verifiedSignatures.clear();
      this.verifiedSignatures.add(key);
    }
    return ok;
  }
}
