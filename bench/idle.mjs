// Scenario `idle`: N authenticated devices each holding an open stream on one node; the server's
// memory per device (RSS of the server's processes after − before, divided by N). Devices are
// seeded straight into the database; the generator is several child processes (bench/idle-worker.mjs,
// raw TLS + WebSocket frames), each on its own 127.0.0.x source address, because one address has
// ~28k ephemeral ports and one process ~20,000 file descriptors.
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  cpuSeconds,
  fdLimit,
  machine,
  printTable,
  processTree,
  rssMiB,
  selfCpuSeconds,
  serverHasFlag,
  size,
  startServer,
  treeSum,
  writeResult,
} from './lib.mjs';
import { seed } from './relay.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Connections per generator process: below its fd limit and one source address's ports. */
const PER_GENERATOR = 15_000;
/** File descriptors a server process needs besides its sockets (database, logs, listeners). */
const FD_MARGIN = 500;

const openFds = (pid) => {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return 0;
  }
};

export async function idleScenario({
  devices = Number(process.env.BENCH_IDLE_DEVICES ?? size(100_000, 1_500)),
  concurrency = 32,
  connectSeconds = size(600, 30),
} = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-idle-'));
  const kek = randomBytes(32).toString('base64url');
  const s0 = performance.now();
  const seeded = await seed(dataDir, kek, devices, { conversations: false });
  const seedSeconds = (performance.now() - s0) / 1000;
  // Enough worker processes for N sockets at ~20,000 descriptors each (at least one per core),
  // as a deployment for N devices would run; without `--workers` the server is one process.
  const workers = serverHasFlag('--workers')
    ? Number(
        process.env.BENCH_WORKERS ??
          Math.min(64, Math.max(os.cpus().length, Math.ceil(devices / (fdLimit(process.pid) - FD_MARGIN)))),
      )
    : undefined;
  const server = await startServer({ dataDir, kek, workers });
  const children = [];
  try {
    await sleep(1000);
    // A server process holds one descriptor per socket: without worker processes, one process's
    // limit caps what the node can hold, and the run reports that instead of exhausting it.
    const tree = processTree(server.pid);
    const serverProcesses = tree.length > 1 ? tree.length - 1 : 1;
    const limit = fdLimit(server.pid) ?? 20_000;
    const capacity = serverProcesses * (limit - FD_MARGIN);
    const target = Math.min(devices, capacity);
    const limitedBy =
      target < devices
        ? `the server runs ${serverProcesses} process(es) with a file-descriptor limit of ${limit} each (one per socket)${workers ? '' : '; `enclave server --workers` is not available in this build'}`
        : null;
    const rssBefore = treeSum(server.pid, rssMiB);
    const cpu0 = treeSum(server.pid, cpuSeconds);
    const gen0 = selfCpuSeconds();

    const n = Math.max(2, Math.ceil(target / PER_GENERATOR));
    const per = Math.ceil(target / n);
    const progress = [];
    const t0 = performance.now();
    const done = [];
    for (let i = 0; i < n; i++) {
      const child = fork(new URL('./idle-worker.mjs', import.meta.url), [], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      progress.push({ connected: 0, failed: 0, dropped: 0 });
      done.push(
        new Promise((resolve) => {
          child.on('message', (m) => {
            if (m.progress) progress[i] = m.progress;
            if (m.done) resolve();
          });
          child.once('exit', resolve);
        }),
      );
      child.send({
        url: server.url,
        tokens: seeded.devices.slice(i * per, Math.min(target, (i + 1) * per)).map((d) => d.token),
        localAddress: `127.0.0.${2 + i}`,
        concurrency: Math.ceil(concurrency / n),
        deadlineMs: connectSeconds * 1000,
      });
    }
    // A long connect phase says how far it got every 10 s.
    const ticker = setInterval(() => {
      const c = progress.reduce((s, p) => s + (p.connected ?? 0), 0);
      const f = progress.reduce((s, p) => s + (p.failed ?? 0), 0);
      console.log(`  … ${c} connected, ${f} failed after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }, 10_000);
    // The children stop by themselves at their deadline; this bound only guards against a hang.
    await Promise.race([Promise.all(done), sleep((connectSeconds + 40) * 1000)]);
    clearInterval(ticker);
    const connectWall = (performance.now() - t0) / 1000;
    const serverCpuConnect = treeSum(server.pid, cpuSeconds) - cpu0;
    await sleep(size(3000, 1500)); // let the server settle (timers, buffers released)
    const rssAfter = treeSum(server.pid, rssMiB);
    const genCpu = selfCpuSeconds() - gen0 + children.reduce((s, c) => s + treeSum(c.pid, cpuSeconds), 0);
    const serverFds = treeSum(server.pid, openFds);
    for (const c of children) c.send('report');
    await sleep(300);
    const sum = (k) => progress.reduce((s, p) => s + (p[k] ?? 0), 0);
    const connected = sum('connected');
    const failed = sum('failed');
    const dropped = sum('dropped');
    if (connected === 0)
      throw new Error(`idle: no stream connected (${progress.find((p) => p.error)?.error ?? 'no error'})`);
    const perDeviceKiB = ((rssAfter - rssBefore) * 1024) / connected;
    const result = {
      scenario: 'idle',
      machine: machine(),
      requestedDevices: devices,
      targetDevices: target,
      connectedDevices: connected,
      stillConnected: connected - dropped,
      failed,
      firstError: progress.find((p) => p.error)?.error ?? null,
      limitedBy,
      server: {
        processes: serverProcesses,
        workersFlag: workers ?? null,
        fdLimitPerProcess: limit,
        openFds: serverFds,
        rssMiBBefore: rssBefore,
        rssMiBAfter: rssAfter,
        rssKiBPerDevice: perDeviceKiB,
        cpuSecondsConnecting: serverCpuConnect,
        cpuMsPerConnection: (serverCpuConnect * 1000) / connected,
      },
      generator: {
        processes: n,
        sourceAddresses: children.map((_, i) => `127.0.0.${2 + i}`),
        cpuSeconds: genCpu,
        client: 'raw TLS (session resumption) + hand-written WebSocket handshake and frames',
      },
      connectSeconds: connectWall,
      connectionsPerSecond: connected / connectWall,
      seedSeconds,
      note: 'Each device: TLS, WebSocket upgrade with a bearer token (checked against the database), stream ready frame, then idle (server pings every 25 s, answered). RSS summed over the server process and its children.',
    };
    printTable(`idle (one node, SQLite, ${connected} connected devices)`, [
      ['devices connected / requested', `${connected} / ${devices}${failed ? ` (${failed} failed)` : ''}`],
      ...(limitedBy ? [['limited by', limitedBy]] : []),
      [
        'server RSS before → after',
        `${rssBefore.toFixed(0)} → ${rssAfter.toFixed(0)} MiB (${perDeviceKiB.toFixed(1)} KiB per device)`,
      ],
      [
        'connect phase',
        `${connectWall.toFixed(1)} s (${result.connectionsPerSecond.toFixed(0)}/s; server CPU ${result.server.cpuMsPerConnection.toFixed(2)} ms per connection)`,
      ],
      ['generator CPU', `${genCpu.toFixed(1)} s over ${n} processes`],
    ]);
    console.log(`  → ${writeResult('idle', result)}`);
    return result;
  } finally {
    for (const c of children) {
      if (c.exitCode === null && c.connected) c.send('close');
    }
    await Promise.all(
      children.map(
        (c) =>
          c.exitCode === null &&
          new Promise((r) => {
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(t);
              r();
            });
          }),
      ),
    );
    await server.stop();
  }
}
