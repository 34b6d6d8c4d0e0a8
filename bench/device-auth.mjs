// Scenario `device-auth`: challenge–response device authentications per second on one node.
import { Agent, request } from 'undici';
import { activateDevice, httpsTransport } from '@enclave/client';
import { importPkcs8, signEd25519 } from '@enclave/crypto';
import { deviceAuthSigningInput } from '@enclave/protocol';
import { adminFor, usersWithPasswords } from './admin.mjs';
import {
  cpuSeconds,
  machine,
  percentile,
  printTable,
  rssMiB,
  selfCpuSeconds,
  size,
  startServer,
  writeResult,
} from './lib.mjs';

export async function deviceAuthScenario({
  devices = size(8, 2),
  concurrency = 16,
  seconds = Number(process.env.BENCH_SECONDS ?? size(5, 1.5)),
  maxRequests = 50_000,
} = {}) {
  const server = await startServer();
  try {
    const { admin, ca } = await adminFor(server);
    const transport = httpsTransport({ baseUrl: server.url, ca });
    const ds = [];
    for (const job of await usersWithPasswords(admin, devices, 'auth')) {
      const d = await activateDevice({
        transport,
        email: job.email,
        activationPassword: job.password,
        platform: 'bench',
        clientVersion: '0.0.0',
      });
      ds.push({ id: d.deviceId, key: await importPkcs8(d.privateKeyPkcs8, 'ed25519') });
    }
    // A lean generator: raw HTTP requests, no SDK parsing per call.
    const agent = new Agent({ connect: { ca }, connections: concurrency, pipelining: 1 });
    const post = async (p, body) => {
      const r = await request(`${server.url}${p}`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = await r.body.json();
      if (r.statusCode !== 200) throw new Error(`${p}: ${r.statusCode} ${JSON.stringify(json)}`);
      return json;
    };
    const lat = [];
    let done = 0;
    let failed = 0;
    const deadline = performance.now() + seconds * 1000;
    const cpu0 = cpuSeconds(server.pid);
    const gen0 = selfCpuSeconds();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async (_, i) => {
        const d = ds[i % ds.length];
        while (performance.now() < deadline && done + failed < maxRequests) {
          const s = performance.now();
          try {
            const ch = await post('/api/v1/device-auth/challenge', { deviceId: d.id });
            const sig = await signEd25519(
              d.key,
              Buffer.from(deviceAuthSigningInput(ch.challengeId, ch.nonce, d.id)),
            );
            await post('/api/v1/device-auth/token', {
              challengeId: ch.challengeId,
              signature: sig.toString('base64url'),
            });
            lat.push(performance.now() - s);
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(server.pid) - cpu0;
    lat.sort((a, b) => a - b);
    const result = {
      scenario: 'device-auth',
      machine: machine(),
      devices,
      concurrency,
      seconds: wall,
      authentications: done,
      failed,
      perSecond: done / wall,
      serverCpuMsPerAuth: (serverCpu * 1000) / Math.max(1, done),
      latencyMs: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
      serverRssMiB: rssMiB(server.pid),
      generatorCpuSeconds: selfCpuSeconds() - gen0,
      note: 'Each authentication is two HTTPS requests (challenge, signed token) and three database writes; generator and server share the 2 cores.',
    };
    printTable('device-auth (one node, SQLite)', [
      ['authentications', `${done} in ${wall.toFixed(1)} s (${failed} failed)`],
      ['per second', result.perSecond.toFixed(0)],
      ['server CPU per authentication', `${result.serverCpuMsPerAuth.toFixed(2)} ms`],
      [
        'latency p50 / p95 / p99',
        `${lat.length ? [50, 95, 99].map((p) => percentile(lat, p).toFixed(1)).join(' / ') : '-'} ms`,
      ],
      ['server RSS', `${result.serverRssMiB?.toFixed(0)} MiB`],
      ['generator CPU', `${result.generatorCpuSeconds.toFixed(1)} s`],
    ]);
    console.log(`  → ${writeResult('device-auth', result)}`);
    await agent.close();
    return result;
  } finally {
    await server.stop();
  }
}
