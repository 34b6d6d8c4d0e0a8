import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from 'node:crypto';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Thrown when a sealed value does not open: wrong key, wrong context, or tampered bytes. */
export class SealOpenError extends Error {
  constructor() {
    super('sealed value did not authenticate (wrong key or tampered data)');
    this.name = 'SealOpenError';
  }
}

function assertKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new TypeError('key must be 32 bytes');
}

/**
 * Encrypts `plaintext` with AES-256-GCM under `key`, binding `context` as associated data so a
 * value sealed for one purpose cannot be opened for another.
 * @returns `iv ‖ ciphertext ‖ tag`
 * @example const box = seal(key, Buffer.from('secret'), 'keystore:root-ca');
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, context: string): Buffer {
  assertKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

/** Opens a value made by {@link seal}; throws {@link SealOpenError} if it does not authenticate. */
export function open(key: Uint8Array, sealed: Uint8Array, context: string): Buffer {
  assertKey(key);
  if (!(sealed instanceof Uint8Array) || sealed.length < IV_BYTES + TAG_BYTES) throw new SealOpenError();
  const buf = Buffer.from(sealed);
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, IV_BYTES));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(buf.subarray(IV_BYTES, buf.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new SealOpenError();
  }
}

/**
 * Derives the key-wrapping key from the operator's KEK with scrypt (so a passphrase-grade KEK is
 * still costly to guess offline). `salt` is stored beside the sealed keys; it is not secret.
 */
export function deriveWrappingKey(kek: string, salt: Uint8Array): Buffer {
  if (typeof kek !== 'string' || kek.length < 16) throw new TypeError('KEK must be at least 16 characters');
  if (salt.length < 16) throw new TypeError('salt must be at least 16 bytes');
  return scryptSync(kek, salt, KEY_BYTES, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

/** HKDF-SHA-256 (RFC 5869) of `ikm` into a 32-byte key for `info`. */
export function deriveKey(ikm: Uint8Array, info: string, salt: Uint8Array = new Uint8Array(0)): Buffer {
  if (ikm.length < 16) throw new TypeError('input key material must be at least 16 bytes');
  return Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'utf8'), KEY_BYTES));
}
