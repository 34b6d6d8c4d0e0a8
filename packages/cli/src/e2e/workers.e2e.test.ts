import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticateDevice, httpsTransport, readDeviceDir } from '@enclave/client';
import WebSocket from 'ws';
import { DB, Installation, ok } from './processes.js';

// One node of two worker processes (`enclave server --workers 2`): both serve the same port, share
// the database, and reach each other's devices through the node's bus.
const inst = new Installation();
const dir = (name: string) => path.join(inst.work, name);
let ca = '';

/** GET over a fresh connection (the node hands each connection to one worker); returns the worker. */
function workerOf(urlPath: string): Promise<{ status: number; worker: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${inst.url}${urlPath}`, { ca, agent: false }, (res) => {
      res.resume();
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, worker: String(res.headers['x-enclave-worker']) }),
      );
    });
    req.on('error', reject);
  });
}

async function workersSeen(requests: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < requests; i++) {
    const r = await workerOf('/healthz');
    assert.equal(r.status, 200);
    seen.add(r.worker);
  }
  return seen;
}

/** The `worker started` lines the primary logged: worker number → pid. */
function startedWorkers(): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of fs.readFileSync(inst.serverLog, 'utf8').split('\n')) {
    if (!line.includes('"worker started"')) continue;
    const e = JSON.parse(line) as { worker: number; workerPid: number };
    m.set(String(e.worker), e.workerPid);
  }
  return m;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, tries = 150): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting: ${what}`);
}

interface Stream {
  ws: WebSocket;
  worker: string;
  frames: { type: string; item?: { messageId?: string } }[];
  closed: Promise<number>;
}

/** Opens a device stream; the upgrade response names the worker that holds it. */
async function openStream(token: string): Promise<Stream> {
  const ws = new WebSocket(`${inst.url.replace('https', 'wss')}/api/v1/stream`, {
    headers: { authorization: `Bearer ${token}` },
    ca,
  });
  const frames: Stream['frames'] = [];
  ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString('utf8')) as Stream['frames'][number]));
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const worker = await new Promise<string>((resolve, reject) => {
    ws.once('upgrade', (res) => resolve(String(res.headers['x-enclave-worker'])));
    ws.once('error', reject);
  });
  await new Promise((r) => (ws.readyState === WebSocket.OPEN ? r(undefined) : ws.once('open', r)));
  return { ws, worker, frames, closed };
}

describe(`a node of two worker processes (${DB})`, () => {
  let setupCode: string | null = null;
  let metricsUrl = '';

  before(async () => {
    await inst.create();
    // No `init`: the first start initialises the installation and issues the setup code (once).
    const started = await inst.startServer({}, ['--workers', '2', '--metrics-listen', '127.0.0.1:0']);
    setupCode = started.setupCode;
    metricsUrl = (started as { metricsUrl?: string }).metricsUrl ?? '';
    ok(
      inst.enclave([
        'setup',
        '--server',
        inst.url,
        '--code',
        String(setupCode),
        '--email',
        'sec@example.com',
        '--password-file',
        inst.passwordFile,
        '--json',
      ]),
    );
    inst.login(inst.url, 'sec@example.com');
    for (const [email, name] of [
      ['ann@example.com', 'Ann'],
      ['ben@example.com', 'Ben'],
    ] as const)
      ok(inst.enclave(['users', 'add', '--email', email, '--name', name, '--json']));
    for (const [name, email] of [
      ['ann1', 'ann@example.com'],
      ['ben1', 'ben@example.com'],
    ] as const) {
      const pw = ok(inst.enclave(['activation', 'create', '--email', email, '--json'])).json
        .password as string;
      inst.activate(inst.url, email, pw, dir(name));
    }
    ca = fs.readFileSync(path.join(dir('ann1'), 'ca.pem'), 'utf8');
  });
  after(() => inst.destroy());

  it('the setup code was issued once and the node started once, with both workers serving', async () => {
    assert.match(String(setupCode), /^[0-9A-F]{4}(-[0-9A-F]{4}){4}$/);
    // The code printed by the primary worked above: no worker replaced it with its own.
    const audit = ok(inst.enclave(['audit', 'list', '--limit', '100', '--json'])).json.items as {
      action: string;
    }[];
    assert.equal(audit.filter((e) => e.action === 'system.initialised').length, 1);
    assert.equal(audit.filter((e) => e.action === 'system.started').length, 1);
    assert.equal(audit.filter((e) => e.action === 'admin.setup').length, 1);
    assert.equal((await workersSeen(8)).size, 2, 'requests are answered by two workers');
    assert.equal(startedWorkers().size, 2);
    // The node's /metrics adds up both workers: all 8 health checks are counted.
    const metrics = await (await fetch(metricsUrl)).text();
    const healthz = metrics
      .split('\n')
      .find(
        (l) => l.startsWith('enclave_http_request_duration_seconds_count') && l.includes('route="/healthz"'),
      );
    assert.equal(Number(healthz?.split(' ').pop()), 8, healthz ?? metrics.slice(0, 2000));
  });

  it('a device connected to one worker receives a message sent through the other, and a revoked device loses its streams on both', async () => {
    const ben = await readDeviceDir(dir('ben1'), { passphrase: null });
    const { token } = await authenticateDevice({
      transport: httpsTransport({ baseUrl: inst.url, ca: ben.caPem }),
      deviceId: ben.record.deviceId,
      privateKey: ben.privateKey,
    });
    // Ben's device keeps one stream on each worker (a device may hold several streams).
    const streams = new Map<string, Stream>();
    for (let i = 0; i < 20 && streams.size < 2; i++) {
      const s = await openStream(token);
      if (streams.has(s.worker)) s.ws.close();
      else streams.set(s.worker, s);
    }
    assert.equal(streams.size, 2, 'streams on both workers');
    // The send request reaches one worker; the stream on the other gets it through the bus.
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ann1'),
        '--to',
        'ben@example.com',
        '--text',
        'hi',
        '--json',
      ]),
    ).json as { messageId: string };
    for (const [worker, s] of streams)
      await until(`the message pushed on worker ${worker}'s stream`, () =>
        s.frames.some((f) => f.type === 'deliver' && f.item?.messageId === sent.messageId),
      );

    ok(inst.enclave(['devices', 'command', ben.record.deviceId, 'revoke', '--json']));
    const codes = await Promise.all([...streams.values()].map((s) => s.closed));
    assert.deepEqual(codes, [4003, 4003], 'both streams closed as revoked');
  });

  it('a worker killed with SIGKILL is restarted and the node keeps serving', async () => {
    const before = startedWorkers();
    const [victim, victimPid] = [...before][0] ?? assert.fail('no worker');
    process.kill(victimPid, 'SIGKILL');
    await until('a new worker started', () => startedWorkers().size > before.size);
    const now = [...startedWorkers()].filter(([id]) => id !== victim && !before.has(id));
    assert.equal(now.length, 1, 'one replacement worker');
    const seen = await workersSeen(8);
    assert.equal(seen.size, 2, 'two workers answer again');
    assert.ok(!seen.has(victim), 'not the killed one');
    assert.ok(seen.has(now[0]?.[0] ?? ''), 'the replacement serves');
    // The node still does real work: Ann's device syncs.
    ok(inst.enclave(['device', 'sync', '--dir', dir('ann1'), '--json']));
  });

  it('SIGTERM stops the primary and every worker', async () => {
    const pids = [...startedWorkers().values()].filter(alive);
    assert.equal(pids.length, 2);
    await inst.stopServer('SIGTERM');
    await until('the workers exited', () => pids.every((p) => !alive(p)));
  });
});
