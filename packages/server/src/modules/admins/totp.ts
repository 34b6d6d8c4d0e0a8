import { Secret, TOTP } from 'otpauth';

const PERIOD = 30;

/** A fresh RFC 6238 secret (160 bits, base32) and its otpauth:// URL for authenticator apps. */
export function newTotpSecret(issuer: string, account: string): { secret: string; otpauthUrl: string } {
  const secret = new Secret({ size: 20 });
  const totp = new TOTP({ issuer, label: account, secret, algorithm: 'SHA1', digits: 6, period: PERIOD });
  return { secret: secret.base32, otpauthUrl: totp.toString() };
}

/**
 * Checks a 6-digit code against the secret, allowing one step of clock drift either way.
 * Returns the time step it matched (callers refuse a step at or before the last one used: no replay),
 * or null.
 */
export function matchTotp(secretBase32: string, code: string, now = Date.now()): number | null {
  const totp = new TOTP({
    secret: Secret.fromBase32(secretBase32),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
  });
  const delta = totp.validate({ token: code, timestamp: now, window: 1 });
  if (delta === null) return null;
  return Math.floor(now / 1000 / PERIOD) + delta;
}
