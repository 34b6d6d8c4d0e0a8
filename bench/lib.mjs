// Shared pieces of the benchmark scenarios: a server child process, CPU accounting, machine facts.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'packages/cli/bin/enclave.js');
const TICKS = 100; // USER_HZ on Linux

/** Run-wide options, set by run.mjs: `--quick` (reduced sizes, for CI) and `--out DIR`. */
export const options = { quick: false, outDir: path.join(ROOT, 'bench/results') };

/** The full-run size, or the reduced one under `--quick`. */
export const size = (full, quick) => (options.quick ? quick : full);

/** The pids of a process and all its descendants (a server with worker processes counts as one). */
export function processTree(pid) {
  const children = new Map();
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(e)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out = [];
  for (let queue = [pid]; queue.length;) {
    const p = queue.shift();
    out.push(p);
    queue.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Sums `fn(pid)` over a process tree, skipping processes that ended meanwhile. */
export function treeSum(pid, fn) {
  let sum = 0;
  for (const p of processTree(pid)) {
    try {
      sum += fn(p) ?? 0;
    } catch {
      // ended
    }
  }
  return sum;
}

/** The soft limit on open files of a process (its sockets count against it). */
export function fdLimit(pid) {
  const m = /Max open files\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/limits`, 'utf8'));
  return m ? Number(m[1]) : null;
}

/** Servers started and not yet stopped, so an interrupted run can stop them (see stopAll). */
const running = new Set();

/** Stops every server this run started (SIGINT/SIGTERM of the run, or a failed scenario). */
export async function stopAll() {
  await Promise.all([...running].map((s) => s.stop()));
}

let helpText;
/** Whether this build's `enclave server` accepts a flag (features other work may add later). */
export function serverHasFlag(flag) {
  helpText ??= spawnSync(process.execPath, [BIN, 'server', '--help'], { encoding: 'utf8' }).stdout ?? '';
  return helpText.includes(flag);
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

export function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : null;
}

/** This process's own CPU seconds (the load generator's cost, so figures can be read fairly). */
export function selfCpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

export function machine() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    date: new Date().toISOString(),
  };
}

/** Starts `enclave server` on a fresh SQLite data directory (or --db URL) and waits for its ready line. */
export async function startServer({
  dbUrl,
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-bench-')),
  kek = randomBytes(32).toString('base64url'),
  natsUrl,
  // Worker processes: BENCH_WORKERS, else the server's default (one per core); quick runs use one.
  workers = process.env.BENCH_WORKERS ? Number(process.env.BENCH_WORKERS) : size(undefined, 1),
  keepData = false,
} = {}) {
  const env = { ...process.env, ENCLAVE_KEK: kek };
  const args = [
    BIN,
    'server',
    '--data',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--json',
    '--log-level',
    'warn',
    ...(dbUrl ? ['--db', dbUrl] : []),
    ...(natsUrl ? ['--nats', natsUrl] : []),
    ...(workers && serverHasFlag('--workers') ? ['--workers', String(workers)] : []),
  ];
  // BENCH_SERVER_NODE_ARGS lets a profiling run pass e.g. --cpu-prof to the server process.
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise((resolve, reject) => {
    child.once('error', reject);
    let buf = '';
    const timer = setTimeout(() => reject(new Error('server did not start in 30 s')), 30_000);
    child.stdout.on('data', (d) => {
      buf += d;
      const line = buf.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line));
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  }).catch((err) => {
    child.kill('SIGKILL');
    if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  });
  child.removeAllListeners('exit');
  const server = {
    ...ready,
    pid: child.pid,
    dataDir,
    kek,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(server);
      if (!keepData) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.add(server);
  return server;
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function printTable(title, rows) {
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

export function writeResult(name, result) {
  const dir = options.outDir;
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  const out = { ...result, machine: result.machine ?? machine(), quick: options.quick };
  fs.writeFileSync(file, `${JSON.stringify(out, null, 2)}\n`);
  return file;
}
