import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import SQLite from 'better-sqlite3';
import { openDatabase } from './database.js';

// Several worker processes share one SQLite file. A transaction that reads and then writes (the
// audit chain's "read the head, append after it") must wait for the other process's write lock,
// never fail with SQLITE_BUSY: openDatabase's transactions begin IMMEDIATE.
const DATABASE_JS = pathToFileURL(
  path.join(path.dirname(fileURLToPath(import.meta.url)), 'database.js'),
).href;

const WRITER = `
import { sql } from 'kysely';
const { openDatabase } = await import(process.env.DATABASE_JS);
const handle = openDatabase({ dataDir: process.env.DATA_DIR });
let failures = 0;
for (let i = 0; i < Number(process.env.ROUNDS); i++) {
  try {
    await handle.db.transaction().execute(async (trx) => {
      const r = await sql\`select coalesce(max(seq), 0) as n from chain\`.execute(trx);
      await new Promise((res) => setImmediate(res)); // let the other process interleave
      await sql\`insert into chain (seq, writer) values (\${Number(r.rows[0].n) + 1}, \${process.pid})\`.execute(trx);
    });
  } catch (err) {
    failures++;
    process.stderr.write(String(err.code ?? err.message) + '\\n');
  }
}
await handle.close();
process.stdout.write(String(failures));
`;

function writer(dataDir: string, rounds: number): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER], {
      env: { ...process.env, DATABASE_JS, DATA_DIR: dataDir, ROUNDS: String(rounds) },
      cwd: path.dirname(fileURLToPath(import.meta.url)),
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

test('read-then-write transactions from three processes on one SQLite file all commit, serialised', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-sqlite-procs-'));
  try {
    const setup = openDatabase({ dataDir });
    await setup.db.schema
      .createTable('chain')
      .addColumn('seq', 'integer', (c) => c.primaryKey())
      .addColumn('writer', 'integer', (c) => c.notNull())
      .execute();
    await setup.close();

    const rounds = 150;
    const results = await Promise.all([
      writer(dataDir, rounds),
      writer(dataDir, rounds),
      writer(dataDir, rounds),
    ]);
    for (const r of results) {
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, '0', `failed transactions: ${r.err}`);
    }
    const db = new SQLite(path.join(dataDir, 'enclave.db'), { readonly: true });
    const rows = db.prepare('select seq, writer from chain order by seq').all() as {
      seq: number;
      writer: number;
    }[];
    db.close();
    assert.equal(rows.length, 3 * rounds, 'every transaction committed');
    assert.deepEqual(
      rows.map((r) => r.seq),
      Array.from({ length: 3 * rounds }, (_, i) => i + 1),
      'no sequence number taken twice or skipped',
    );
    assert.equal(new Set(rows.map((r) => r.writer)).size, 3, 'all three processes wrote');
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});
