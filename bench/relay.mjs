// Scenario `relay`: 1 KiB ciphertext messages between connected devices through one node,
// persisted until acknowledged. Devices are seeded straight into the database (activation is
// measured by its own scenario); each receives over the WebSocket stream and acks every delivery.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { openEnclave } from '@enclave/server';
import {
  cpuSeconds,
  machine,
  percentile,
  printTable,
  rssMiB,
  selfCpuSeconds,
  startServer,
  writeResult,
} from './lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function seed(dataDir, kek, devices) {
  const e = await openEnclave({ dataDir, env: { ENCLAVE_KEK: kek } });
  const db = e.handle.db;
  const now = new Date().toISOString();
  const later = new Date(Date.now() + 6 * 3600_000).toISOString();
  const cert = e.pki.issuing.certificate.toString('pem'); // stands in for device certificates: only shown, never verified here
  const out = [];
  for (let i = 0; i < devices; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(devices, i + 500); j++)
      batch.push({
        user: randomUUID(),
        device: randomUUID(),
        token: `end_${randomBytes(32).toString('base64url')}`,
        n: j,
      });
    await db
      .insertInto('users')
      .values(
        batch.map((b) => ({
          id: b.user,
          email: `relay-${b.n}@example.com`,
          name: `Relay ${b.n}`,
          created_at: now,
          updated_at: now,
        })),
      )
      .execute();
    await db
      .insertInto('devices')
      .values(
        batch.map((b) => ({
          id: b.device,
          user_id: b.user,
          name: 'bench',
          platform: 'bench',
          client_version: '0',
          status: 'active',
          certificate: cert,
          certificate_serial: randomBytes(16).toString('hex'),
          certificate_not_after: later,
          activated_at: now,
          last_contact_at: now,
          revoked_at: null,
        })),
      )
      .execute();
    await db
      .insertInto('device_sessions')
      .values(
        batch.map((b) => ({
          id: randomUUID(),
          token_hash: sha256(b.token),
          device_id: b.device,
          created_at: now,
          expires_at: later,
        })),
      )
      .execute();
    out.push(...batch);
  }
  // Pairs of devices share a direct conversation at epoch 0.
  const pairs = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    const a = out[i];
    const b = out[i + 1];
    const id = randomUUID();
    await db
      .insertInto('conversations')
      .values({
        id,
        name: null,
        kind: 'direct',
        epoch: 0,
        created_by_device: a.device,
        created_at: now,
        updated_at: now,
      })
      .execute();
    await db
      .insertInto('conversation_users')
      .values([
        { conversation_id: id, user_id: a.user },
        { conversation_id: id, user_id: b.user },
      ])
      .execute();
    await db
      .insertInto('conversation_devices')
      .values(
        [a, b].map((d) => ({ conversation_id: id, device_id: d.device, state: 'member', updated_at: now })),
      )
      .execute();
    pairs.push({ id, a, b });
  }
  await e.close();
  return { devices: out, pairs };
}

function connect(url, token, onDeliver) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('https', 'wss')}/api/v1/stream`, {
      headers: { authorization: `Bearer ${token}` },
      rejectUnauthorized: false,
      perMessageDeflate: false,
    });
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'ready') resolve(ws);
      else if (f.type === 'deliver') {
        onDeliver(f.item);
        ws.send(JSON.stringify({ type: 'ack', seqs: [f.item.seq] }));
      }
    });
    ws.once('error', reject);
  });
}

export async function relayScenario({
  devices = Number(process.env.BENCH_DEVICES ?? 1000),
  seconds = Number(process.env.BENCH_SECONDS ?? 5),
  senders = 32,
} = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-relay-'));
  const kek = randomBytes(32).toString('base64url');
  const { pairs } = await seed(dataDir, kek, devices);
  const server = await startServer({ dataDir, kek });
  try {
    const rssBefore = rssMiB(server.pid);
    const sentAt = new Map();
    const latencies = [];
    let delivered = 0;
    const onDeliver = (item) => {
      delivered++;
      const t = sentAt.get(item.messageId);
      if (t !== undefined) latencies.push(performance.now() - t);
    };
    const sockets = [];
    for (const p of pairs) {
      sockets.push(await connect(server.url, p.a.token, onDeliver));
      sockets.push(await connect(server.url, p.b.token, onDeliver));
    }
    await sleep(1000);
    const rssIdle = rssMiB(server.pid);
    const perDeviceKiB = ((rssIdle - rssBefore) * 1024) / (pairs.length * 2);

    const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: senders });
    const body = randomBytes(1024).toString('base64url');
    const post = async (p, from) => {
      const messageId = randomUUID();
      sentAt.set(messageId, performance.now());
      const r = await request(`${server.url}/api/v1/conversations/${p.id}/messages`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${from.token}` },
        body: JSON.stringify({ epoch: 0, messageId, ciphertext: body }),
      });
      await r.body.dump();
      if (r.statusCode !== 201) throw new Error(`send: ${r.statusCode}`);
    };

    // 1. Peak: closed loop, `senders` requests in flight, bounded by time and count.
    const cpu0 = cpuSeconds(server.pid);
    const gen0 = selfCpuSeconds();
    let accepted = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: senders }, async (_, i) => {
        for (let k = 0; performance.now() < deadline && accepted < 500_000; k++) {
          const p = pairs[(i + k * senders) % pairs.length];
          await post(p, k % 2 ? p.a : p.b);
          accepted++;
        }
      }),
    );
    const drainUntil = performance.now() + 10_000;
    while (delivered < accepted && performance.now() < drainUntil) await sleep(50);
    const wall = (performance.now() - t0) / 1000;
    const peak = accepted / wall;
    const deliveredAtPeak = delivered;
    const serverCpuPeak = cpuSeconds(server.pid) - cpu0;
    const genCpuPeak = selfCpuSeconds() - gen0;

    // 2. Latency at half the peak rate, open loop.
    latencies.length = 0;
    const rate = Math.max(1, Math.floor(peak / 2));
    const count = Math.min(rate * seconds, 200_000);
    const start = performance.now();
    const inflight = [];
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      const p = pairs[i % pairs.length];
      inflight.push(post(p, i % 2 ? p.a : p.b));
      if (inflight.length > 2000) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    const until = performance.now() + 10_000;
    while (latencies.length < count && performance.now() < until) await sleep(50);
    latencies.sort((a, b) => a - b);
    const result = {
      scenario: 'relay',
      machine: machine(),
      connectedDevices: pairs.length * 2,
      messageBytes: 1024,
      peak: {
        messagesPerSecond: peak,
        accepted,
        delivered: deliveredAtPeak,
        seconds: wall,
        serverCpuSeconds: serverCpuPeak,
        generatorCpuSeconds: genCpuPeak,
      },
      halfRate: {
        offeredPerSecond: rate,
        messages: count,
        latencyMs: {
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          p99: percentile(latencies, 99),
        },
        received: latencies.length,
      },
      memory: {
        serverRssMiBBefore: rssBefore,
        serverRssMiBConnected: rssIdle,
        perIdleDeviceKiB: perDeviceKiB,
      },
      note: 'One server process (SQLite, WAL). Each message: HTTPS POST, one row + one delivery row written, WebSocket push, ack frame, two deletes. Generator and server share the 2 cores.',
    };
    printTable(`relay (one node, SQLite, ${result.connectedDevices} connected devices)`, [
      [
        'peak messages / s',
        `${peak.toFixed(0)} (${accepted} accepted, ${deliveredAtPeak} delivered in ${wall.toFixed(1)} s)`,
      ],
      ['server CPU / generator CPU at peak', `${serverCpuPeak.toFixed(1)} s / ${genCpuPeak.toFixed(1)} s`],
      [
        `latency at ${rate}/s p50 / p95 / p99`,
        `${[50, 95, 99].map((q) => (percentile(latencies, q) ?? NaN).toFixed(1)).join(' / ')} ms`,
      ],
      [
        'server RSS idle → connected',
        `${rssBefore.toFixed(0)} → ${rssIdle.toFixed(0)} MiB (${perDeviceKiB.toFixed(1)} KiB per idle device)`,
      ],
    ]);
    console.log(`  → ${writeResult('relay', result)}`);
    for (const ws of sockets) ws.close();
    await agent.close();
    return result;
  } finally {
    await server.stop();
  }
}
