#!/usr/bin/env node
// Runs the test suites the way CI does: unit tests once, integration and e2e suites once on
// SQLite and once on PostgreSQL. Prints one closing line "N passed, N failed".
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv[2]; // unit | integration | e2e | undefined = all

function find(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) find(p, out);
    else if (e.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const all = fs
  .readdirSync(path.join(root, 'packages'))
  .flatMap((p) => find(path.join(root, 'packages', p, 'dist')))
  .sort();
const kind = (f) =>
  f.endsWith('.e2e.test.js') ? 'e2e' : f.endsWith('.int.test.js') ? 'integration' : 'unit';
const suites = [];
const files = (k) => all.filter((f) => kind(f) === k);
if (!only || only === 'unit') suites.push({ name: 'unit', files: files('unit'), env: {} });
for (const db of ['sqlite', 'postgres']) {
  if (!only || only === 'integration')
    // Integration files are independent (each its own SQLite file or PostgreSQL database) and mostly
    // wait on I/O, so three at a time; e2e files start servers and browsers, so one at a time.
    suites.push({
      name: `integration (${db})`,
      files: files('integration'),
      env: { ENCLAVE_TEST_DB: db },
      concurrency: 3,
    });
  if (!only || only === 'e2e')
    suites.push({ name: `e2e (${db})`, files: files('e2e'), env: { ENCLAVE_TEST_DB: db } });
}

let passed = 0;
let failed = 0;
const started = Date.now();
for (const s of suites) {
  if (s.files.length === 0) continue;
  console.log(`\n=== ${s.name}: ${s.files.length} file(s) ===`);
  const args = ['--test', '--test-reporter=spec', `--test-concurrency=${s.concurrency ?? 1}`];
  const r = spawnSync(process.execPath, [...args, ...s.files], {
    cwd: root,
    env: { ...process.env, ...s.env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 * 1024 * 1024,
  });
  process.stdout.write(r.stdout ?? '');
  const p = Number(/ℹ pass (\d+)/.exec(r.stdout ?? '')?.[1] ?? 0);
  const f = Number(/ℹ fail (\d+)/.exec(r.stdout ?? '')?.[1] ?? 0);
  passed += p;
  failed += f;
  if (r.status !== 0 && f === 0) failed += 1; // the runner itself failed (crash, timeout)
}
console.log(`\nall suites done in ${Math.round((Date.now() - started) / 1000)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
