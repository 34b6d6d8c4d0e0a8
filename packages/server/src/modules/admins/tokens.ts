import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A bearer secret: 256 random bits, base64url, with a prefix that says what it is (helps secret scanners). */
export function newToken(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Only this hash of a token is stored, so a database leak yields no usable session. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Constant-time comparison of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Reads a bearer token from the Authorization header. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer ([A-Za-z0-9_.-]{10,200})$/.exec(header ?? '');
  return m?.[1];
}
