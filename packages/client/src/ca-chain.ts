import { certificateFingerprint, isIssuedBy, parseCertificate, type x509 } from '@enclave/crypto';
import { ApiError } from './transport.js';

/**
 * Normalises a CA fingerprint as operators type it (`AB:CD…`, spaces, upper case) to the form the
 * server prints: lower-case hex without separators.
 * @example normalizeFingerprint('AB:cd 01') // 'abcd01'
 */
export function normalizeFingerprint(fingerprint: string): string {
  return fingerprint.replace(/[\s:]/g, '').toLowerCase();
}

/** True when `fingerprint` is a SHA-256 fingerprint (64 hex digits, separators allowed). */
export function isFingerprint(fingerprint: string): boolean {
  return /^[0-9a-f]{64}$/.test(normalizeFingerprint(fingerprint));
}

/** The verified enterprise CA: its chain (issuing CA first, root last) and the root's fingerprint. */
export interface VerifiedCaChain {
  /** Parsed chain, issuing CA first, root last. */
  certificates: x509.X509Certificate[];
  /** SHA-256 of the root certificate's DER, lower-case hex. */
  caFingerprint: string;
}

/**
 * Checks an enterprise CA chain (PEM strings, issuing CA first and the root last): every element
 * parses, each is signed by the next and valid now, the root is self-signed, and — when given —
 * the root's fingerprint equals `expectedFingerprint`.
 *
 * Throws {@link ApiError} `server_untrusted` on a fingerprint mismatch and `certificate_invalid`
 * when the chain does not hold together.
 */
export async function verifyCaChain(
  chainPem: readonly string[],
  expectedFingerprint?: string,
): Promise<VerifiedCaChain> {
  if (chainPem.length === 0)
    throw new ApiError(0, 'certificate_invalid', 'the server sent an empty CA chain');
  let certificates: x509.X509Certificate[];
  try {
    certificates = chainPem.map((pem) => parseCertificate(pem));
  } catch {
    throw new ApiError(0, 'certificate_invalid', 'the server sent a CA chain that does not parse as X.509');
  }
  const root = certificates[certificates.length - 1];
  if (!root) throw new ApiError(0, 'certificate_invalid', 'the server sent an empty CA chain');
  const caFingerprint = certificateFingerprint(root);
  if (expectedFingerprint !== undefined && normalizeFingerprint(expectedFingerprint) !== caFingerprint) {
    throw new ApiError(
      0,
      'server_untrusted',
      `the server's enterprise CA fingerprint is ${caFingerprint}, not the expected ${normalizeFingerprint(expectedFingerprint)}`,
    );
  }
  // RFC 5280 §6.1: each certificate is signed by the next one up; the trust anchor signs itself.
  for (let i = 0; i < certificates.length; i++) {
    const cert = certificates[i];
    const issuer = certificates[i + 1] ?? root;
    if (!cert || !(await isIssuedBy(cert, issuer))) {
      throw new ApiError(
        0,
        'certificate_invalid',
        `CA chain element ${i} is not signed by ${i + 1 < certificates.length ? `element ${i + 1}` : 'itself'} or is not valid now`,
      );
    }
  }
  return { certificates, caFingerprint };
}

/** Joins PEM certificates into one bundle (one certificate after another, newline-terminated). */
export function joinPem(pems: readonly string[]): string {
  return pems.map((p) => `${p.trim()}\n`).join('');
}

/** Splits a PEM bundle into its `CERTIFICATE` blocks, in order. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
