import { randomBytes } from 'node:crypto';
import { deriveWrappingKey, open, seal, SealOpenError } from '@enclave/crypto';
import type { Db } from '../db/database.js';
import { KekError } from './kek.js';

const CHECK_PLAINTEXT = 'enclave-kek-check-v1';

/**
 * Private keys and secrets at rest: every value is AES-256-GCM-sealed under a key derived from the
 * operator's KEK and bound to its name. The database never holds a private key in the clear.
 */
export class Keystore {
  private constructor(
    private readonly db: Db,
    private readonly wrappingKey: Buffer,
  ) {}

  /** First start: derive the wrapping key from a fresh salt and store a check value. */
  static async create(db: Db, kek: string): Promise<Keystore> {
    const salt = randomBytes(16);
    const key = deriveWrappingKey(kek, salt);
    const check = seal(key, Buffer.from(CHECK_PLAINTEXT), 'kek-check').toString('base64');
    await db
      .insertInto('meta')
      .values([
        { key: 'kek_salt', value: salt.toString('base64') },
        { key: 'kek_check', value: check },
      ])
      .execute();
    return new Keystore(db, key);
  }

  /** Later starts: derive the wrapping key and prove it is the right one before anything is written. */
  static async unlock(db: Db, kek: string): Promise<Keystore> {
    const rows = await db
      .selectFrom('meta')
      .select(['key', 'value'])
      .where('key', 'in', ['kek_salt', 'kek_check'])
      .execute();
    const salt = rows.find((r) => r.key === 'kek_salt')?.value;
    const check = rows.find((r) => r.key === 'kek_check')?.value;
    if (!salt || !check)
      throw new KekError('the database has no key check value: it was not initialised by Enclave');
    const key = deriveWrappingKey(kek, Buffer.from(salt, 'base64'));
    try {
      open(key, Buffer.from(check, 'base64'), 'kek-check');
    } catch (err) {
      if (err instanceof SealOpenError)
        throw new KekError(
          'wrong key-encryption key: the KEK does not open this data directory (check ENCLAVE_KEK or DATA/kek)',
        );
      throw err;
    }
    return new Keystore(db, key);
  }

  async put(name: string, value: Uint8Array): Promise<void> {
    const sealed = seal(this.wrappingKey, value, `keystore:${name}`).toString('base64');
    await this.db
      .insertInto('keystore')
      .values({ name, sealed, created_at: new Date().toISOString() })
      .onConflict((oc) => oc.column('name').doUpdateSet({ sealed }))
      .execute();
  }

  async get(name: string): Promise<Buffer> {
    const row = await this.db
      .selectFrom('keystore')
      .select('sealed')
      .where('name', '=', name)
      .executeTakeFirst();
    if (!row)
      throw new KekError(`key ${name} is missing from the keystore: restore the database from a backup`);
    return open(this.wrappingKey, Buffer.from(row.sealed, 'base64'), `keystore:${name}`);
  }

  async has(name: string): Promise<boolean> {
    return (
      (await this.db.selectFrom('keystore').select('name').where('name', '=', name).executeTakeFirst()) !==
      undefined
    );
  }
}

/** Seals small secrets in rows (TOTP secrets, OPAQUE login state) under a data key kept in the keystore. */
export class SecretBox {
  constructor(private readonly key: Buffer) {}
  seal(value: string, context: string): string {
    return seal(this.key, Buffer.from(value, 'utf8'), context).toString('base64');
  }
  open(sealed: string, context: string): string {
    return open(this.key, Buffer.from(sealed, 'base64'), context).toString('utf8');
  }
}
