// Scenario `commands`: time from an administrator's lock to the device's acknowledgement, for one
// device and for 1,000 connected devices at once (bulk). Devices are seeded straight into the
// database; each answers `command` frames on its stream with an HTTP ack, as the SDK does (without
// the signature check, which is the device's cost).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { adminFor } from './admin.mjs';
import { cpuSeconds, machine, percentile, printTable, size, startServer, writeResult } from './lib.mjs';
import { seed } from './relay.mjs';

export async function commandsScenario({
  devices = Number(process.env.BENCH_DEVICES ?? size(1000, 60)),
} = {}) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-cmd-bench-'));
  const kek = randomBytes(32).toString('base64url');
  const seeded = await seed(dataDir, kek, devices);
  const server = await startServer({ dataDir, kek });
  const agent = new Agent({ connect: { rejectUnauthorized: false }, connections: 32 });
  const sockets = [];
  try {
    const { admin } = await adminFor(server);
    const token = admin.sessionToken;
    const sentAt = new Map();
    const acked = new Map();
    const policySeen = [];
    const ack = async (d, commandId) => {
      const r = await request(`${server.url}/api/v1/device/commands/${commandId}/ack`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${d.token}` },
        body: JSON.stringify({ state: 'done' }),
      });
      await r.body.dump();
      acked.set(commandId, performance.now());
    };
    for (const d of seeded.devices) {
      const ws = new WebSocket(`${server.url.replace('https', 'wss')}/api/v1/stream`, {
        headers: { authorization: `Bearer ${d.token}` },
        rejectUnauthorized: false,
        perMessageDeflate: false,
      });
      await new Promise((resolve, reject) => {
        ws.on('message', (data) => {
          const f = JSON.parse(data.toString());
          if (f.type === 'ready') resolve();
          if (f.type === 'command') void ack(d, f.command.commandId);
          if (f.type === 'policy_changed') policySeen.push(performance.now());
        });
        ws.once('error', reject);
      });
      sockets.push(ws);
    }
    const send = async (d) => {
      const t = performance.now();
      const r = await request(`${server.url}/api/v1/devices/${d.device}/commands`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ type: 'lock' }),
      });
      const json = await r.body.json();
      if (r.statusCode !== 201) throw new Error(`command: ${r.statusCode} ${JSON.stringify(json)}`);
      sentAt.set(json.commandId, t);
      return json.commandId;
    };
    const waitAll = async (ids, ms) => {
      const until = performance.now() + ms;
      while (ids.some((id) => !acked.has(id)) && performance.now() < until)
        await new Promise((r) => setTimeout(r, 10));
      return ids.map((id) => (acked.get(id) ?? NaN) - (sentAt.get(id) ?? NaN)).sort((a, b) => a - b);
    };
    // One device, ten times.
    const single = [];
    for (let i = 0; i < 10; i++)
      single.push(...(await waitAll([await send(seeded.devices[i % seeded.devices.length])], 5000)));
    single.sort((a, b) => a - b);
    // Bulk: a lock for every connected device at once (16 administrator requests in flight).
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    const ids = [];
    const queue = [...seeded.devices];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let d = queue.shift(); d; d = queue.shift()) ids.push(await send(d));
      }),
    );
    const bulk = await waitAll(ids, 60_000);
    const wall = (performance.now() - t0) / 1000;
    // Policy propagation: change the default policy; every connected device is told on its stream.
    const policies = await request(`${server.url}/api/v1/policies`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${token}` },
    });
    const def = (await policies.body.json()).items.find((p) => p.isDefault);
    const p0 = performance.now();
    const upd = await request(`${server.url}/api/v1/policies/${def.id}`, {
      method: 'PATCH',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ document: { minPasscodeLength: 8 } }),
    });
    await upd.body.dump();
    const until = performance.now() + 30_000;
    while (policySeen.length < devices && performance.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    const propagation = policySeen.map((t) => t - p0).sort((a, b) => a - b);
    const result = {
      scenario: 'commands',
      policyPropagation: {
        devices: policySeen.length,
        latencyMs: {
          p50: percentile(propagation, 50),
          p99: percentile(propagation, 99),
          max: propagation[propagation.length - 1] ?? null,
        },
      },
      machine: machine(),
      connectedDevices: devices,
      single: {
        commands: single.length,
        latencyMs: { p50: percentile(single, 50), p99: percentile(single, 99) },
      },
      bulk: {
        commands: ids.length,
        acknowledged: bulk.filter((x) => !Number.isNaN(x)).length,
        seconds: wall,
        latencyMs: { p50: percentile(bulk, 50), p95: percentile(bulk, 95), p99: percentile(bulk, 99) },
        serverCpuSeconds: cpuSeconds(server.pid) - cpu0,
      },
      note: 'Latency: administrator POST → device ack received. Each command is signed (Ed25519), stored, audited and pushed on the stream.',
    };
    printTable(`commands (one node, SQLite, ${devices} connected devices)`, [
      [
        'one device: p50 / p99',
        `${single.length ? [50, 99].map((q) => percentile(single, q).toFixed(1)).join(' / ') : '-'} ms`,
      ],
      [
        'bulk lock to all: p50 / p95 / p99',
        `${[50, 95, 99].map((q) => (percentile(bulk, q) ?? NaN).toFixed(0)).join(' / ')} ms`,
      ],
      [
        'policy change reaches all devices: p50 / p99',
        `${[50, 99].map((q) => (percentile(propagation, q) ?? NaN).toFixed(0)).join(' / ')} ms (${policySeen.length}/${devices} devices)`,
      ],
      [
        'bulk wall time',
        `${wall.toFixed(1)} s for ${ids.length} commands (${result.bulk.acknowledged} acknowledged)`,
      ],
    ]);
    console.log(`  → ${writeResult('commands', result)}`);
    return result;
  } finally {
    for (const ws of sockets) ws.close();
    await agent.close();
    await server.stop();
  }
}
