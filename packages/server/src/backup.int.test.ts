import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { backupEnclave, restoreEnclave } from './backup.js';
import { openEnclave, type Enclave } from './bootstrap.js';
import { AuditRepository } from './modules/audit/audit.repository.js';
import { AuditService, SYSTEM } from './modules/audit/audit.service.js';
import { TEST_DB, TEST_KEK } from './test-support/harness.js';

const SKIP =
  TEST_DB === 'postgres'
    ? 'backup/restore covers the single-node SQLite installation (PostgreSQL uses pg_dump)'
    : false;
const env = { ENCLAVE_KEK: TEST_KEK };

describe('enclave backup / restore', { skip: SKIP }, () => {
  let root: string;
  let source: string;
  let archive: string;
  let enclave: Enclave;
  let written = 0;
  const attachment = randomBytes(300_000);

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-backup-'));
    source = path.join(root, 'source');
    archive = path.join(root, 'out', 'enclave.backup');
    enclave = await openEnclave({ dataDir: source, env, organization: 'Backup Co' });
    fs.mkdirSync(path.join(source, 'attachments', 'ab'), { recursive: true });
    fs.writeFileSync(path.join(source, 'attachments', 'ab', 'abcdef'), attachment);
  });
  after(async () => {
    await enclave.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('backs up a running installation while rows are being written', async () => {
    const audit = new AuditService(new AuditRepository(enclave.handle.db));
    for (let i = 0; i < 50; i++) await audit.record({ actor: SYSTEM, action: 'test.before', target: `${i}` });
    let stop = false;
    const writer = (async () => {
      while (!stop) {
        await audit.record({ actor: SYSTEM, action: 'test.during', target: `${written}` });
        written++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const logs: string[] = [];
    const result = await backupEnclave({ dataDir: source, out: archive, log: (l) => logs.push(l) });
    stop = true;
    await writer;
    assert.ok(written > 0);
    assert.equal(result.caFingerprint, enclave.pki.caFingerprint);
    assert.equal(result.entries, 2);
    assert.equal(result.bytes, fs.statSync(archive).size);
    assert.equal(fs.statSync(archive).mode & 0o777, 0o600);
    assert.ok(
      logs.some((l) => /key-encryption key/.test(l)),
      'warns that the KEK is kept separately',
    );
    assert.ok(!fs.readFileSync(archive).includes(Buffer.from(TEST_KEK)), 'the KEK is not in the archive');
  });

  it('refuses a PostgreSQL installation with a pointer to pg_dump', async () => {
    await assert.rejects(
      backupEnclave({ dataDir: source, out: path.join(root, 'x'), dbUrl: 'postgres://h/db' }),
      /pg_dump/,
    );
  });

  it('restores into a new directory: same KEK, CA fingerprint, rows, attachments; audit chain verifies', async () => {
    const target = path.join(root, 'restored');
    const r = await restoreEnclave({ dataDir: target, from: archive, env });
    assert.equal(r.caFingerprint, enclave.pki.caFingerprint);
    assert.ok(!fs.existsSync(path.join(target, 'kek')));
    assert.deepEqual(fs.readFileSync(path.join(target, 'attachments', 'ab', 'abcdef')), attachment);
    const restored = await openEnclave({ dataDir: target, env });
    try {
      assert.equal(restored.pki.caFingerprint, enclave.pki.caFingerprint);
      assert.equal(restored.pki.organization, 'Backup Co');
      const audit = new AuditService(new AuditRepository(restored.handle.db));
      const v = await audit.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
      const rows = await restored.handle.db
        .selectFrom('audit_log')
        .select(({ fn }) => fn.countAll<number>().as('n'))
        .where('action', '=', 'test.before')
        .executeTakeFirstOrThrow();
      assert.equal(Number(rows.n), 50);
    } finally {
      await restored.close();
    }
  });

  it('refuses a non-empty target directory', async () => {
    const target = fs.mkdtempSync(path.join(root, 'busy-'));
    fs.writeFileSync(path.join(target, 'something'), 'x');
    await assert.rejects(restoreEnclave({ dataDir: target, from: archive, env }), /not empty/);
  });

  it('refuses a corrupted archive and leaves the target empty', async () => {
    const bytes = fs.readFileSync(archive);
    for (const at of [bytes.length - 1000, 20, Math.floor(bytes.length / 2)]) {
      const bad = Buffer.from(bytes);
      bad[at] = (bad[at] ?? 0) ^ 0x01;
      const file = path.join(root, `bad-${at}.backup`);
      fs.writeFileSync(file, bad);
      const target = fs.mkdtempSync(path.join(root, 'bad-target-'));
      await assert.rejects(restoreEnclave({ dataDir: target, from: file, env }), /damaged/);
      assert.deepEqual(fs.readdirSync(target), []);
    }
    const truncated = path.join(root, 'short.backup');
    fs.writeFileSync(truncated, bytes.subarray(0, bytes.length - 1));
    const target = path.join(root, 'short-target');
    await assert.rejects(restoreEnclave({ dataDir: target, from: truncated, env }), /damaged|truncated/);
    assert.ok(!fs.existsSync(target));
  });

  it('fails with a wrong or missing KEK and removes what it wrote', async () => {
    const target = fs.mkdtempSync(path.join(root, 'wrong-kek-'));
    await assert.rejects(
      restoreEnclave({ dataDir: target, from: archive, env: { ENCLAVE_KEK: 'x'.repeat(40) } }),
      /KEK/,
    );
    assert.deepEqual(fs.readdirSync(target), []);
    await assert.rejects(restoreEnclave({ dataDir: target, from: archive, env: {} }), /ENCLAVE_KEK/);
    assert.deepEqual(fs.readdirSync(target), []);
  });

  it('takes the KEK from a key file and installs it', async () => {
    const kekFile = path.join(root, 'kek-copy');
    fs.writeFileSync(kekFile, `${TEST_KEK}\n`);
    const target = path.join(root, 'from-file');
    const r = await restoreEnclave({ dataDir: target, from: archive, env: {}, kekFile });
    assert.equal(r.caFingerprint, enclave.pki.caFingerprint);
    assert.equal(fs.statSync(path.join(target, 'kek')).mode & 0o777, 0o600);
  });
});
