import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DB } from './processes.js';

// `npm run bench -- --quick` (here without the build step: the suite runs on a built tree) finishes
// within 2 minutes and writes every scenario's result with the machine's facts. The suite starts
// its own servers (SQLite; the cluster scenario its own PostgreSQL database), so it runs once, in
// the SQLite pass. Figures are not asserted: performance is read from the results, not tested.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const LIMIT_MS = 120_000;

/** Every number in a result tree (nested objects and arrays included). */
function numbers(v: unknown, at = ''): [string, number][] {
  if (typeof v === 'number') return [[at, v]];
  if (Array.isArray(v)) return v.flatMap((x, i) => numbers(x, `${at}[${i}]`));
  if (v && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => numbers(x, at ? `${at}.${k}` : k));
  return [];
}

describe(
  'benchmark suite, quick sizes',
  { skip: DB !== 'sqlite' && 'runs once, with ENCLAVE_TEST_DB=sqlite' },
  () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-bench-e2e-'));
    after(() => fs.rmSync(out, { recursive: true, force: true }));

    it(
      'runs every scenario in under 2 minutes and writes sane results',
      { timeout: LIMIT_MS + 10_000 },
      async () => {
        // Its own process group, so that a run cut off at the limit takes its servers with it.
        const child = spawn(process.execPath, ['bench/run.mjs', '--quick', '--out', out], {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
        const killGroup = (signal: NodeJS.Signals) => {
          try {
            if (child.pid) process.kill(-child.pid, signal);
          } catch {
            // already gone
          }
        };
        let log = '';
        child.stdout.on('data', (d: Buffer) => (log += d.toString()));
        child.stderr.on('data', (d: Buffer) => (log += d.toString()));
        const started = Date.now();
        const code = await new Promise<number | string>((resolve) => {
          const timer = setTimeout(() => {
            killGroup('SIGTERM');
            setTimeout(() => killGroup('SIGKILL'), 5_000).unref();
            resolve('timeout');
          }, LIMIT_MS);
          child.once('exit', (c, signal) => {
            clearTimeout(timer);
            resolve(c ?? signal ?? 'unknown');
          });
        });
        child.stdout.destroy();
        child.stderr.destroy();
        const scenarios = spawnSync(process.execPath, ['bench/run.mjs', '--list'], {
          cwd: ROOT,
          encoding: 'utf8',
        })
          .stdout.split('\n')
          .filter(Boolean);
        assert.ok(
          scenarios.includes('relay') && scenarios.includes('idle'),
          `scenarios: ${scenarios.join(', ')}`,
        );
        assert.equal(
          code,
          0,
          `bench exited with ${code} after ${Date.now() - started} ms:\n${log.slice(-4000)}`,
        );

        for (const name of scenarios) {
          const file = path.join(out, `${name}.json`);
          assert.ok(fs.existsSync(file), `${name}.json was not written:\n${log.slice(-2000)}`);
          const r = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown> & {
            machine: { cpu: string; cores: number; memoryGiB: number; node: string; date: string };
          };
          assert.equal(r.scenario, name);
          assert.equal(r.quick, true, `${name}: not marked quick`);
          assert.ok(r.machine.cores > 0 && r.machine.memoryGiB > 0, `${name}: machine facts missing`);
          assert.match(r.machine.node, /^v\d+/);
          assert.ok(r.machine.cpu.length > 0 && !Number.isNaN(Date.parse(r.machine.date)));
          const nums = numbers(r);
          assert.ok(nums.length >= 3, `${name}: no figures`);
          // Memory deltas may dip below zero when a collection runs; every other figure is a count,
          // a rate, a duration or a size.
          for (const [at, n] of nums)
            assert.ok(Number.isFinite(n) && (n >= 0 || /MiB|KiB/.test(at)), `${name}.${at} = ${n}`);
          // The headline figure of each scenario is positive.
          assert.ok(
            nums.some(([, n]) => n > 0),
            `${name}: every figure is 0`,
          );
        }
        // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each line reads its scenario's figure
        const headline: Record<string, (r: any) => number> = {
          activation: (r) => r.observedPerSecond,
          'device-auth': (r) => r.perSecond,
          relay: (r) => r.peak.messagesPerSecond,
          idle: (r) => r.server.rssKiBPerDevice,
          cluster: (r) => r.peak.acceptedPerSecond,
          mls: (r) => r.groups[0].addOne.commitMsMedian,
          commands: (r) => r.bulk.acknowledged,
        };
        for (const [name, get] of Object.entries(headline)) {
          const r: unknown = JSON.parse(fs.readFileSync(path.join(out, `${name}.json`), 'utf8'));
          assert.ok(get(r) > 0, `${name}: headline figure is ${get(r)}`);
        }
        // Nothing was written into the working tree.
        assert.ok(!log.includes(path.join(ROOT, 'bench/results')), 'results went to bench/results');
      },
    );
  },
);
