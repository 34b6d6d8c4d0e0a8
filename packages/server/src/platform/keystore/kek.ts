import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Thrown for a KEK problem the operator must fix; the message is one line and names the fix. */
export class KekError extends Error {
  override name = 'KekError';
}

export interface KekSource {
  kek: string;
  /** Where it came from, for the startup banner (never the value). */
  source: 'env' | 'file';
  /** True when this start created `data/kek`; the operator is warned it belongs off this disk. */
  created: boolean;
}

export function kekFilePath(dataDir: string): string {
  return path.join(dataDir, 'kek');
}

/**
 * Finds the key-encryption key: `ENCLAVE_KEK`, else `DATA/kek`. Only when the installation is new
 * (`allowCreate`) is a missing KEK generated, into `DATA/kek` with mode 0600.
 */
export function resolveKek(dataDir: string, env: NodeJS.ProcessEnv, allowCreate: boolean): KekSource {
  const fromEnv = env.ENCLAVE_KEK;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (fromEnv.length < 32)
      throw new KekError(
        'ENCLAVE_KEK is too short: use at least 32 characters (e.g. `openssl rand -base64 32`)',
      );
    return { kek: fromEnv, source: 'env', created: false };
  }
  const file = kekFilePath(dataDir);
  if (fs.existsSync(file)) {
    const kek = fs.readFileSync(file, 'utf8').trim();
    if (kek.length < 32)
      throw new KekError(`the key file ${file} is too short or damaged: restore it from your backup`);
    return { kek, source: 'file', created: false };
  }
  if (!allowCreate) {
    throw new KekError(
      `no key-encryption key: set ENCLAVE_KEK or restore ${file} (the data directory is encrypted under it)`,
    );
  }
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const kek = randomBytes(32).toString('base64url');
  fs.writeFileSync(file, `${kek}\n`, { mode: 0o600, flag: 'wx' });
  return { kek, source: 'file', created: true };
}
