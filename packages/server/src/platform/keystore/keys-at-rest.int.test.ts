import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openEnclave } from '../../bootstrap.js';
import { freshDatabase, TEST_KEK } from '../../test-support/harness.js';
import { KekError } from './kek.js';

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of fs.readdirSync(dir))
    out[f] = createHash('sha256')
      .update(fs.readFileSync(path.join(dir, f)))
      .digest('hex');
  return out;
}

describe('keys at rest', () => {
  it('creates data/kek with mode 0600 when ENCLAVE_KEK is unset, and reuses it later', async () => {
    const db = await freshDatabase();
    try {
      const e = await openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: {} });
      assert.equal(e.kek.source, 'file');
      assert.equal(e.kek.created, true);
      await e.close();
      assert.equal(fs.statSync(path.join(db.dataDir, 'kek')).mode & 0o777, 0o600);
      assert.equal(fs.statSync(db.dataDir).mode & 0o777, 0o700);
      for (const f of fs.readdirSync(db.dataDir)) {
        assert.equal(
          fs.statSync(path.join(db.dataDir, f)).mode & 0o077,
          0,
          `${f} must not be readable by group or others`,
        );
      }
      const again = await openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: {} });
      assert.equal(again.kek.created, false);
      await again.close();
    } finally {
      await db.drop();
    }
  });

  it('writes no private key unencrypted: no PEM key, no raw PKCS#8 of any stored key in any file or table', async () => {
    const db = await freshDatabase();
    try {
      const e = await openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: { ENCLAVE_KEK: TEST_KEK } });
      const secrets = await Promise.all(
        ['root-ca', 'issuing-ca', 'tls', 'opaque-server-setup', 'data-key'].map((k) => e.keystore.get(k)),
      );
      const needles = secrets.flatMap((s) => [
        s,
        Buffer.from(s.toString('base64')),
        Buffer.from(s.toString('hex')),
      ]);
      // Everything the database holds, as text, plus every file of the data directory.
      const tables = ['meta', 'keystore'] as const;
      const dump = [];
      for (const tbl of tables)
        dump.push(JSON.stringify(await e.handle.db.selectFrom(tbl).selectAll().execute()));
      await e.close();
      const blobs = [
        Buffer.from(dump.join('\n')),
        ...fs.readdirSync(db.dataDir).map((f) => fs.readFileSync(path.join(db.dataDir, f))),
      ];
      for (const blob of blobs) {
        assert.ok(!blob.includes('PRIVATE KEY'), 'no PEM private key');
        for (const n of needles) assert.ok(!blob.includes(n), 'no raw key material');
      }
    } finally {
      await db.drop();
    }
  });

  it('refuses a wrong KEK with one clear line and leaves the data directory untouched', async () => {
    const db = await freshDatabase();
    try {
      const e = await openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: { ENCLAVE_KEK: TEST_KEK } });
      await e.close();
      const before = snapshot(db.dataDir);
      await assert.rejects(
        openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: { ENCLAVE_KEK: `${TEST_KEK}-wrong` } }),
        (err: Error) => {
          assert.ok(err instanceof KekError);
          assert.match(err.message, /wrong key-encryption key/);
          assert.ok(!err.message.includes('\n'));
          assert.ok(!err.message.includes(TEST_KEK), 'the KEK never appears in an error');
          return true;
        },
      );
      assert.deepEqual(snapshot(db.dataDir), before);
    } finally {
      await db.drop();
    }
  });

  it('refuses to start without a KEK once the installation exists', async () => {
    const db = await freshDatabase();
    try {
      const e = await openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: { ENCLAVE_KEK: TEST_KEK } });
      await e.close();
      const before = snapshot(db.dataDir);
      await assert.rejects(
        openEnclave({ dataDir: db.dataDir, dbUrl: db.dbUrl, env: {} }),
        /no key-encryption key: set ENCLAVE_KEK/,
      );
      assert.deepEqual(snapshot(db.dataDir), before, 'no kek file is invented for an existing installation');
    } finally {
      await db.drop();
    }
  });
});
