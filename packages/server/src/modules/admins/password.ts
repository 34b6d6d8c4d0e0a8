import argon2 from 'argon2';

// OWASP's argon2id baseline (19 MiB, t=2, p=1): ~25 ms here, costly enough for an offline attacker.
const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Hashes an administrator password with argon2id (PHC string, salt included). */
export function hashPassword(password: string): Promise<string> {
  return argon2.hash(password, OPTIONS);
}

/** Verifies in constant time (argon2 compares the derived hashes itself). */
export async function verifyPassword(hash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(hash, password);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | undefined;
/** Burns the same time as a real verification so an unknown email is not revealed by timing. */
export async function verifyDummy(password: string): Promise<false> {
  dummy ??= hashPassword('enclave-dummy-password-for-timing');
  await verifyPassword(await dummy, password);
  return false;
}
