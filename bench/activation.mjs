// Scenario `activation`: devices activating over OPAQUE against one node. Reports the server's CPU
// time per activation — its capacity — separately from the generator-bound wall-clock rate.
import { Worker } from 'node:worker_threads';
import { adminFor, usersWithPasswords } from './admin.mjs';
import {
  cpuSeconds,
  machine,
  percentile,
  printTable,
  selfCpuSeconds,
  size,
  startServer,
  writeResult,
} from './lib.mjs';

export async function activationScenario({
  count = Number(process.env.BENCH_ACTIVATIONS ?? size(40, 4)),
  threads = 2,
} = {}) {
  const server = await startServer();
  try {
    const { admin } = await adminFor(server);
    const jobs = await usersWithPasswords(admin, count, 'act');
    const cpu0 = cpuSeconds(server.pid);
    const gen0 = selfCpuSeconds();
    const t0 = performance.now();
    const chunks = Array.from({ length: threads }, (_, i) => jobs.filter((_, j) => j % threads === i));
    const results = (
      await Promise.all(
        chunks.map(
          (c) =>
            new Promise((resolve, reject) => {
              const w = new Worker(new URL('./activation-worker.mjs', import.meta.url), {
                workerData: { url: server.url, jobs: c },
              });
              w.once('message', resolve);
              w.once('error', reject);
            }),
        ),
      )
    ).flat();
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.pid) - cpu0;
    const ok = results.filter((r) => r.ok);
    if (ok.length !== count)
      throw new Error(
        `only ${ok.length}/${count} activations succeeded: ${results.find((r) => !r.ok)?.error}`,
      );
    const lat = ok.map((r) => r.ms).sort((a, b) => a - b);
    const cpuMsPer = (serverCpu * 1000) / count;
    const result = {
      scenario: 'activation',
      machine: machine(),
      activations: count,
      generatorThreads: threads,
      wallSeconds: wall,
      observedPerSecond: count / wall,
      serverCpuMsPerActivation: cpuMsPer,
      serverCapacityPerSecondOneCore: 1000 / cpuMsPer,
      latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
      generatorCpuSeconds: selfCpuSeconds() - gen0,
      note: 'Observed rate is bound by the generator: each device runs OPAQUE Argon2id (~0.3 s CPU) on the same 2 cores. Server capacity = 1 / server CPU time per activation on one core.',
    };
    printTable('activation (one node, SQLite)', [
      ['activations', String(count)],
      ['observed / s (generator-bound)', result.observedPerSecond.toFixed(1)],
      ['server CPU per activation', `${cpuMsPer.toFixed(2)} ms`],
      ['server capacity, one core', `${result.serverCapacityPerSecondOneCore.toFixed(0)} / s`],
      [
        'latency p50 / p95 / p99',
        `${lat.length ? [50, 95, 99].map((p) => percentile(lat, p).toFixed(0)).join(' / ') : '-'} ms`,
      ],
      ['generator CPU', `${result.generatorCpuSeconds.toFixed(1)} s (main thread; workers not included)`],
    ]);
    console.log(`  → ${writeResult('activation', result)}`);
    return { result, devices: ok.map((r) => ({ deviceId: r.deviceId, key: r.key })) };
  } finally {
    await server.stop();
  }
}
