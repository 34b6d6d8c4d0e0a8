// Scenario `relay`: 1 KiB ciphertext messages between connected devices through one node,
// persisted until acknowledged. Devices are seeded straight into the database (activation is
// measured by its own scenario); each receives over the WebSocket stream and acks every delivery.
// `measureRelay` is shared with the `cluster` scenario (the same load spread over several nodes).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { openEnclave } from '@enclave/server';
import {
  cpuSeconds,
  percentile,
  printTable,
  rssMiB,
  selfCpuSeconds,
  size,
  startServer,
  treeSum,
  writeResult,
} from './lib.mjs';

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const SEED_BATCH = 500;

/**
 * Seeds `devices` active devices with stream tokens straight into the database (creating the
 * installation if needed). With `conversations`, consecutive devices pair up in a direct
 * conversation at epoch 0.
 */
export async function seed(dataDir, kek, devices, { dbUrl, conversations = true } = {}) {
  const e = await openEnclave({ dataDir, dbUrl, env: { ENCLAVE_KEK: kek } });
  try {
    const db = e.handle.db;
    const now = new Date().toISOString();
    const later = new Date(Date.now() + 6 * 3600_000).toISOString();
    const cert = e.pki.issuing.certificate.toString('pem'); // stands in for device certificates: only shown, never verified here
    const out = [];
    const pairs = [];
    for (let i = 0; i < devices; i += SEED_BATCH) {
      const batch = [];
      for (let j = i; j < Math.min(devices, i + SEED_BATCH); j++)
        batch.push({
          user: randomUUID(),
          device: randomUUID(),
          token: `end_${randomBytes(32).toString('base64url')}`,
          n: j,
        });
      await db.transaction().execute(async (trx) => {
        await trx
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
        await trx
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
        await trx
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
        if (!conversations) return;
        // Pairs of devices share a direct conversation at epoch 0 (SEED_BATCH is even).
        const ps = [];
        for (let k = 0; k + 1 < batch.length; k += 2)
          ps.push({ id: randomUUID(), a: batch[k], b: batch[k + 1] });
        if (!ps.length) return;
        await trx
          .insertInto('conversations')
          .values(
            ps.map((p) => ({
              id: p.id,
              name: null,
              kind: 'direct',
              epoch: 0,
              created_by_device: p.a.device,
              created_at: now,
              updated_at: now,
            })),
          )
          .execute();
        await trx
          .insertInto('conversation_users')
          .values(
            ps.flatMap((p) => [
              { conversation_id: p.id, user_id: p.a.user },
              { conversation_id: p.id, user_id: p.b.user },
            ]),
          )
          .execute();
        await trx
          .insertInto('conversation_devices')
          .values(
            ps.flatMap((p) =>
              [p.a, p.b].map((d) => ({
                conversation_id: p.id,
                device_id: d.device,
                state: 'member',
                updated_at: now,
              })),
            ),
          )
          .execute();
        pairs.push(...ps);
      });
      out.push(...batch);
    }
    return { devices: out, pairs };
  } finally {
    await e.close();
  }
}

/**
 * Opens a device's stream; every delivery is handed to `onDeliver` and acknowledged, other frames
 * (`sent`, `error`) to `onFrame`.
 */
export function connectStream(url, token, onDeliver, { timeoutMs = 30_000, onFrame } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('https', 'wss')}/api/v1/stream`, {
      headers: { authorization: `Bearer ${token}` },
      rejectUnauthorized: false,
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('stream: no ready frame'));
    }, timeoutMs);
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString());
      if (f.type === 'ready') {
        clearTimeout(timer);
        resolve(ws);
      } else if (f.type === 'deliver') {
        onDeliver(f.item);
        ws.send(JSON.stringify({ type: 'ack', seqs: [f.item.seq] }));
      } else onFrame?.(f);
    });
    ws.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The relay measurement. `nodes` are running servers ({ url, pid }); device k of `pairs` (a = 2i,
 * b = 2i + 1) connects to nodes[k % nodes.length] and sends through the same node. Measures the
 * closed-loop peak, then latency in an open loop at half the peak rate. Messages go as `send`
 * frames on the sender's own stream (answered `sent` once stored), or with `via: 'http'` as one
 * HTTPS POST each.
 */
export async function measureRelay({
  nodes,
  pairs,
  seconds,
  senders = 64,
  drainMs = 10_000,
  via = process.env.BENCH_RELAY_VIA ?? 'stream',
}) {
  const place = pairs.map((p, i) => ({
    p,
    a: nodes[(2 * i) % nodes.length],
    b: nodes[(2 * i + 1) % nodes.length],
  }));
  const sentAt = new Map();
  const latencies = [];
  const seen = new Set();
  let recording = false;
  const onDeliver = (item) => {
    if (seen.has(item.messageId)) return; // a redelivery after a reconnect
    seen.add(item.messageId);
    if (!recording) return;
    const t = sentAt.get(item.messageId);
    if (t !== undefined) latencies.push(performance.now() - t);
  };
  const sockets = [];
  const socketOf = new Map(); // token → its stream
  const waiting = new Map(); // messageId → the send's { resolve, reject }
  const onFrame = (f) => {
    if (f.type !== 'sent' && !(f.type === 'error' && f.messageId)) return;
    const w = waiting.get(f.messageId);
    waiting.delete(f.messageId);
    if (f.type === 'sent') w?.resolve();
    else w?.reject(new Error(`send: ${f.code} ${f.message}`));
  };
  const connectAll = async () => {
    sockets.length = 0;
    for (const { p, a, b } of place) {
      for (const [node, d] of [
        [a, p.a],
        [b, p.b],
      ]) {
        const ws = await connectStream(node.url, d.token, onDeliver, { onFrame });
        sockets.push(ws);
        socketOf.set(d.token, ws);
      }
    }
  };
  const rss = () => nodes.reduce((s, n) => s + treeSum(n.pid, rssMiB), 0);
  const cpu = () => nodes.reduce((s, n) => s + treeSum(n.pid, cpuSeconds), 0);
  const rssBefore = rss();
  await connectAll();
  await sleep(1000);
  const rssIdle = rss();

  const agents = new Map(
    nodes.map((n) => [
      n.url,
      new Agent({ connect: { rejectUnauthorized: false }, connections: Math.ceil(senders / nodes.length) }),
    ]),
  );
  const body = randomBytes(1024).toString('base64url');
  const post = async (url, p, from) => {
    const messageId = randomUUID();
    sentAt.set(messageId, performance.now());
    const r = await request(`${url}/api/v1/conversations/${p.id}/messages`, {
      method: 'POST',
      dispatcher: agents.get(url),
      headers: { 'content-type': 'application/json', authorization: `Bearer ${from.token}` },
      body: JSON.stringify({ epoch: 0, messageId, ciphertext: body }),
    });
    await r.body.dump();
    if (r.statusCode !== 201) throw new Error(`send: ${r.statusCode}`);
  };
  const frame = (p, from) =>
    new Promise((resolve, reject) => {
      const messageId = randomUUID();
      sentAt.set(messageId, performance.now());
      const timer = setTimeout(() => {
        waiting.delete(messageId);
        reject(new Error('send: no answer in 30 s'));
      }, 30_000);
      waiting.set(messageId, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      socketOf
        .get(from.token)
        .send(JSON.stringify({ type: 'send', conversationId: p.id, epoch: 0, messageId, ciphertext: body }));
    });
  const sendOne = (k) => {
    const x = place[k % place.length];
    if (via !== 'http') return k % 2 ? frame(x.p, x.p.a) : frame(x.p, x.p.b);
    return k % 2 ? post(x.a.url, x.p, x.p.a) : post(x.b.url, x.p, x.p.b);
  };
  const drain = async (target, ms) => {
    const until = performance.now() + ms;
    while (seen.size < target && performance.now() < until) await sleep(20);
  };

  try {
    // 1. Peak: closed loop, `senders` requests in flight, bounded by time and count.
    const cpu0 = cpu();
    const gen0 = selfCpuSeconds();
    let accepted = 0;
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    await Promise.all(
      Array.from({ length: senders }, async (_, i) => {
        for (let k = 0; performance.now() < deadline && accepted < 500_000; k++) {
          await sendOne(i + k * senders);
          accepted++;
        }
      }),
    );
    await drain(accepted, drainMs);
    const wall = (performance.now() - t0) / 1000;
    const deliveredLive = seen.size;
    const peak = {
      messagesPerSecond: deliveredLive >= accepted ? accepted / wall : deliveredLive / wall,
      acceptedPerSecond: accepted / ((deadline - t0) / 1000),
      accepted,
      delivered: deliveredLive,
      seconds: wall,
      serverCpuSeconds: cpu() - cpu0,
      serverCpuMsPerMessage: ((cpu() - cpu0) * 1000) / Math.max(1, accepted),
      generatorCpuSeconds: selfCpuSeconds() - gen0,
    };
    // What did not arrive live (a node that does not hear of another node's messages) must still
    // be in the queues: reconnect every device and let the stream resume from its queue.
    let deliveredAfterReconnect = deliveredLive;
    if (deliveredLive < accepted) {
      for (const ws of sockets) ws.close();
      await connectAll();
      await drain(accepted, drainMs);
      deliveredAfterReconnect = seen.size;
    }

    // 2. Latency at half the peak rate, open loop, bounded in count.
    // (If nothing was delivered live, the accepted rate stands in for the peak.)
    const basis = deliveredLive > 0 ? peak.messagesPerSecond : peak.acceptedPerSecond;
    const rate = Math.max(1, Math.floor(basis / 2));
    const count = Math.min(rate * seconds, 200_000);
    const before = seen.size;
    recording = true;
    const start = performance.now();
    const inflight = [];
    for (let i = 0; i < count; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      inflight.push(sendOne(i));
      if (inflight.length > 2000) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);
    await drain(before + count, drainMs);
    recording = false;
    latencies.sort((a, b) => a - b);
    return {
      transport:
        via === 'http'
          ? 'HTTPS POST per message'
          : "`send` frames on the sender's stream (answered `sent` once stored)",
      connectedDevices: pairs.length * 2,
      messageBytes: 1024,
      peak: { ...peak, deliveredAfterReconnect },
      halfRate: {
        offeredPerSecond: rate,
        messages: count,
        received: latencies.length,
        latencyMs: {
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          p99: percentile(latencies, 99),
        },
      },
      memory: {
        serverRssMiBBefore: rssBefore,
        serverRssMiBConnected: rssIdle,
        perIdleDeviceKiB: ((rssIdle - rssBefore) * 1024) / (pairs.length * 2),
      },
    };
  } finally {
    for (const ws of sockets) ws.terminate();
    await Promise.all([...agents.values()].map((a) => a.close()));
  }
}

/** The table rows both relay scenarios print. */
export function relayRows(r) {
  const fmt = (xs) => xs.map((x) => (x ?? NaN).toFixed(1)).join(' / ');
  const l = r.halfRate.latencyMs;
  return [
    [
      'peak messages / s',
      `${r.peak.messagesPerSecond.toFixed(0)} (${r.peak.accepted} accepted at ${r.peak.acceptedPerSecond.toFixed(0)}/s, ${r.peak.delivered} delivered live in ${r.peak.seconds.toFixed(1)} s)`,
    ],
    [
      'server CPU / generator CPU at peak',
      `${r.peak.serverCpuSeconds.toFixed(1)} s / ${r.peak.generatorCpuSeconds.toFixed(1)} s (server ${r.peak.serverCpuMsPerMessage.toFixed(3)} ms per message)`,
    ],
    [
      `latency at ${r.halfRate.offeredPerSecond}/s p50 / p95 / p99`,
      `${fmt([l.p50, l.p95, l.p99])} ms (${r.halfRate.received}/${r.halfRate.messages} received)`,
    ],
    [
      'server RSS idle → connected',
      `${r.memory.serverRssMiBBefore.toFixed(0)} → ${r.memory.serverRssMiBConnected.toFixed(0)} MiB (${r.memory.perIdleDeviceKiB.toFixed(1)} KiB per idle device)`,
    ],
  ];
}

export async function relayScenario({
  devices = Number(process.env.BENCH_DEVICES ?? size(1000, 100)),
  seconds = Number(process.env.BENCH_SECONDS ?? size(5, 1.5)),
  senders = 64,
} = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-relay-'));
  const kek = randomBytes(32).toString('base64url');
  const { pairs } = await seed(dataDir, kek, devices);
  const server = await startServer({ dataDir, kek });
  try {
    const r = await measureRelay({ nodes: [server], pairs, seconds, senders, drainMs: size(10_000, 3_000) });
    const result = {
      scenario: 'relay',
      ...r,
      note: 'One node (SQLite, WAL; its worker processes, one per core unless BENCH_WORKERS). Each message: sent (see transport), stored with its delivery row in a group commit, answered, pushed on the receiver stream, acknowledged (ack frame; acks are group-committed too). Generator and server share the 2 cores.',
    };
    printTable(`relay (one node, SQLite, ${r.connectedDevices} connected devices)`, relayRows(r));
    console.log(`  → ${writeResult('relay', result)}`);
    return result;
  } finally {
    await server.stop();
  }
}
