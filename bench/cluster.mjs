// Scenario `cluster`: the relay measurement across 3 nodes (separate processes) sharing a fresh
// PostgreSQL database and NATS; the two devices of every conversation sit on different nodes, so
// every message crosses nodes. The database is created for the run and dropped afterwards.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { machine, printTable, size, startServer, writeResult } from './lib.mjs';
import { measureRelay, relayRows, seed } from './relay.mjs';

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => {
      s.destroy();
      resolve(true);
    });
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

async function admin(sql) {
  const c = new pg.Client({ connectionString: `${PG_URL}/postgres` });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

export async function clusterScenario({
  nodeCount = 3,
  devices = Number(process.env.BENCH_DEVICES ?? size(1000, 60)),
  seconds = Number(process.env.BENCH_SECONDS ?? size(5, 1.5)),
  senders = 64,
} = {}) {
  const natsUp = await reachable(NATS_URL);
  const dbName = `enclave_bench_${randomBytes(6).toString('hex')}`;
  const dbUrl = `${PG_URL}/${dbName}`;
  const kek = randomBytes(32).toString('base64url');
  const dataDirs = Array.from({ length: nodeCount }, () =>
    fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-cluster-')),
  );
  await admin(`CREATE DATABASE ${dbName}`);
  const nodes = [];
  try {
    const { pairs } = await seed(dataDirs[0], kek, devices, { dbUrl });
    for (const dataDir of dataDirs)
      nodes.push(await startServer({ dataDir, kek, dbUrl, natsUrl: natsUp ? NATS_URL : undefined }));
    const ready = await Promise.all(
      nodes.map(async (n) => {
        const agent = new Agent({ connect: { rejectUnauthorized: false } });
        try {
          const r = await request(`${n.url}/readyz`, { dispatcher: agent });
          return { status: r.statusCode, body: (await r.body.text()).slice(0, 300) };
        } catch (err) {
          return { status: 0, body: String(err) };
        } finally {
          await agent.close();
        }
      }),
    );
    const r = await measureRelay({ nodes, pairs, seconds, senders, drainMs: size(10_000, 2_000) });
    const live = r.peak.delivered >= r.peak.accepted;
    const crossNodeDelivery = live
      ? 'live: each node heard of the other nodes’ messages over the bus and pushed them at once'
      : r.peak.deliveredAfterReconnect >= r.peak.accepted
        ? `not live (${r.peak.delivered}/${r.peak.accepted} pushed): the nodes do not share events yet, so messages waited in the PostgreSQL queues until their devices reconnected, then all arrived`
        : `not live and incomplete: ${r.peak.deliveredAfterReconnect}/${r.peak.accepted} arrived after reconnecting`;
    const result = {
      scenario: 'cluster',
      machine: machine(),
      nodes: nodeCount,
      database: 'PostgreSQL (fresh database, dropped afterwards)',
      nats: natsUp ? NATS_URL : `unreachable (${NATS_URL}): nodes started without --nats`,
      readyz: ready,
      crossNodeDelivery,
      ...r,
      note: 'Three `enclave server` processes on one PostgreSQL database; devices of a conversation on different nodes, each sender posting to its own node. Nodes and generator share the 2 cores.',
    };
    printTable(`cluster (${nodeCount} nodes, PostgreSQL + NATS, ${r.connectedDevices} connected devices)`, [
      ...relayRows(r),
      ['cross-node delivery', crossNodeDelivery],
    ]);
    console.log(`  → ${writeResult('cluster', result)}`);
    return result;
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
    for (const d of dataDirs) fs.rmSync(d, { recursive: true, force: true });
    await admin(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((err) =>
      console.error(`cluster: could not drop database ${dbName}: ${err.message}`),
    );
  }
}
