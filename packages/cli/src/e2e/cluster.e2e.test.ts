import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticateDevice, httpsTransport, Messenger, readDeviceDir } from '@enclave/client';
import WebSocket from 'ws';
import { BIN, DB, Installation, ok } from './processes.js';

// Cluster mode as the operator runs it: three `enclave server` processes on one PostgreSQL
// database, carrying events over NATS; devices on different nodes. PostgreSQL only (SQLite is a
// single-node database).
const NATS_URL = process.env.ENCLAVE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER = process.env.ENCLAVE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
const BURST = 1_000;

const inst = new Installation();
// A skipped suite runs no hooks of its own: remove the installation's temp folder here.
if (DB !== 'postgres') after(() => inst.destroy());
const dir = (name: string) => path.join(inst.work, name);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(
  what: string,
  ms: number,
  f: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** One `enclave server` process of the cluster. */
class Node {
  url = '';
  private child: ChildProcess | undefined;
  constructor(
    readonly name: string,
    private readonly natsUrl = NATS_URL,
  ) {}

  async start(): Promise<void> {
    const log = fs.openSync(path.join(inst.work, `node-${this.name}.log`), 'a');
    // One process per node, so three nodes are three processes (and the file stays within ~2 minutes
    // on two cores); with --workers, each worker joins NATS itself (workers.ts).
    const args = [
      BIN,
      'server',
      '--data',
      inst.dataDir,
      '--listen',
      '127.0.0.1:0',
      '--json',
      '--workers',
      '1',
    ];
    const child = spawn(process.execPath, [...args, ...inst.dbFlags, '--nats', this.natsUrl], {
      env: { ...process.env, ENCLAVE_KEK: inst.kek },
      stdio: ['ignore', 'pipe', log],
    });
    this.child = child;
    this.url = await new Promise<string>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`node ${this.name} not ready: ${buf}`)), 30_000);
      child.stdout?.on('data', (d: Buffer) => {
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.includes('"event":"ready"'));
        if (line) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { url: string }).url);
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`node ${this.name} exited with ${code}: ${buf}`));
      });
    });
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return child?.exitCode ?? null;
    return new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill(signal);
    });
  }
}

const nodes = { a: new Node('a'), b: new Node('b'), c: new Node('c') };
let caPem = '';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each test asserts the fields it reads
function get(url: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) }));
      })
      .on('error', reject);
  });
}

async function messenger(name: string, node: Node): Promise<Messenger> {
  const transport = httpsTransport({ baseUrl: node.url, ca: caPem });
  return Messenger.open({
    dir: dir(name),
    passphrase: null,
    transport,
    stream: { baseUrl: node.url, ca: caPem },
  });
}

async function deviceId(name: string): Promise<string> {
  return (await readDeviceDir(dir(name), { passphrase: null })).record.deviceId;
}

/** A raw stream of `name` on `node`: resolves once the server said `ready`. */
async function stream(name: string, node: Node): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const device = await readDeviceDir(dir(name), { passphrase: null });
  const { token } = await authenticateDevice({
    transport: httpsTransport({ baseUrl: node.url, ca: caPem }),
    deviceId: device.record.deviceId,
    privateKey: device.privateKey,
  });
  const ws = new WebSocket(`${node.url.replace('https', 'wss')}/api/v1/stream`, {
    headers: { authorization: `Bearer ${token}` },
    ca: caPem,
  });
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (d) => {
      if (Buffer.isBuffer(d) && d.toString('utf8').includes('"type":"ready"')) resolve();
    });
    ws.once('error', reject);
  });
  return { ws, closed };
}

describe(
  `cluster: three nodes on PostgreSQL and NATS (${DB})`,
  { skip: DB !== 'postgres' && 'cluster mode needs PostgreSQL (ENCLAVE_TEST_DB=postgres)' },
  () => {
    before(async () => {
      await inst.create();
      inst.init('sec@example.com', 'Acme');
      // Node A first; B and C then open the installation A's start completed.
      await nodes.a.start();
      await Promise.all([nodes.b.start(), nodes.c.start()]);
      inst.login(nodes.a.url, 'sec@example.com');
      for (const [email, name] of [
        ['ann@example.com', 'Ann'],
        ['ben@example.com', 'Ben'],
        ['cat@example.com', 'Cat'],
        ['dan@example.com', 'Dan'],
      ] as const)
        ok(inst.enclave(['users', 'add', '--email', email, '--name', name, '--json']));
      // Each device activates through a different node than the administrator uses.
      for (const [name, email, node] of [
        ['ann1', 'ann@example.com', nodes.b],
        ['ben1', 'ben@example.com', nodes.c],
        ['cat1', 'cat@example.com', nodes.c],
        ['dan1', 'dan@example.com', nodes.b],
      ] as const) {
        const pw = ok(inst.enclave(['activation', 'create', '--email', email, '--json'])).json
          .password as string;
        inst.activate(node.url, email, pw, dir(name));
      }
      caPem = (await readDeviceDir(dir('ann1'), { passphrase: null })).caPem;
    });
    after(async () => {
      for (const n of Object.values(nodes)) await n.stop('SIGKILL');
      await inst.destroy();
    });

    it('devices on different nodes exchange messages, pushed on their streams', async () => {
      const ann = await messenger('ann1', nodes.b);
      const ben = await messenger('ben1', nodes.c);
      const benListens = ben.listen({ timeoutMs: 20_000, stopWhen: () => ben.inboxSize >= 1 });
      const sent = await ann.send({ to: ['ben@example.com'], text: 'hello from node B' });
      await benListens;
      assert.deepEqual(
        (await ben.drainInbox()).map((m) => [m.conversationId, m.messageId, m.from, m.text]),
        [[sent.conversationId, sent.messageId, 'ann@example.com', 'hello from node B']],
      );
      const annListens = ann.listen({ timeoutMs: 20_000, stopWhen: () => ann.inboxSize >= 1 });
      await ben.send({ conversationId: sent.conversationId, text: 'hello back from node C' });
      await annListens;
      assert.deepEqual(
        (await ann.drainInbox()).map((m) => [m.from, m.text]),
        [['ben@example.com', 'hello back from node C']],
      );
      await ann.close();
      await ben.close();
    });

    it('a lock command sent through node A reaches the device listening on node B and ends done', async () => {
      const dan = await messenger('dan1', nodes.b);
      const id = await deviceId('dan1');
      const listening = dan.listen({ timeoutMs: 20_000, stopWhen: () => dan.commandResults.length > 0 });
      await sleep(300); // the stream is open: the command is pushed, not fetched at connect
      const cmd = ok(inst.enclave(['devices', 'command', id, 'lock', '--json'])).json;
      await listening;
      assert.deepEqual(
        dan.commandResults.map((r) => [r.commandId, r.type, r.state]),
        [[cmd.commandId, 'lock', 'done']],
      );
      const shown = ok(inst.enclave(['devices', 'show', id, '--json'])).json;
      assert.equal(
        shown.commands.find((c: { commandId: string }) => c.commandId === cmd.commandId)?.state,
        'done',
      );
      await dan.close();
    });

    it("a revocation issued on node A closes the device's stream on node C", async () => {
      const { closed } = await stream('dan1', nodes.c);
      ok(inst.enclave(['devices', 'command', await deviceId('dan1'), 'revoke', '--json']));
      const code = await Promise.race([closed, sleep(10_000).then(() => 'still open')]);
      assert.equal(code, 4003);
    });

    it(`SIGKILL of a node during a burst of ${BURST} messages: its devices reconnect elsewhere and get each once`, async () => {
      const ann = await messenger('ann1', nodes.a);
      const first = await ann.send({ to: ['ben@example.com', 'cat@example.com'], text: 'burst 0' });
      const texts: string[] = ['burst 0'];
      // The receivers run as device processes listening on node C, which dies part-way through.
      const receivers = ['ben1', 'cat1'];
      const onC = receivers.map((r) =>
        inst.enclaveAsync([
          'device',
          'listen',
          '--dir',
          dir(r),
          '--server',
          nodes.c.url,
          '--seconds',
          '120',
          '--json',
        ]),
      );
      await sleep(3_000); // connected and caught up (were they not, they would read from their queues)
      const burst = Array.from({ length: BURST }, (_, i) => `burst ${i + 1}`);
      texts.push(...burst);
      const cut = Math.floor(BURST / 3);
      await ann.sendMany(first.conversationId, burst.slice(0, cut));
      await nodes.c.stop('SIGKILL');
      await ann.sendMany(first.conversationId, burst.slice(cut));
      await ann.close();
      // Their streams broke off with node C; the devices reconnect to node B and take the rest.
      for (const r of await Promise.all(onC)) assert.match(r.stderr, /network_error/);
      for (const name of receivers) {
        const got = ok(
          inst.enclave([
            'device',
            'receive',
            '--dir',
            dir(name),
            '--server',
            nodes.b.url,
            '--wait',
            '30',
            '--json',
          ]),
        ).json.messages as { messageId: string; text: string }[];
        assert.deepEqual(got.map((x) => x.text).sort(), [...texts].sort(), `${name}: every message, once`);
        assert.equal(new Set(got.map((x) => x.messageId)).size, texts.length);
      }
    });

    it('/readyz turns 503 while NATS is away and 200 when it is back; SIGTERM closes streams with 1001', async () => {
      const port = await freePort();
      const startNats = async () => {
        const p = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
        await until(
          'nats-server',
          5_000,
          () =>
            new Promise<boolean>((resolve) => {
              const s = net.connect(port, '127.0.0.1', () => {
                s.destroy();
                resolve(true);
              });
              s.once('error', () => resolve(false));
            }),
        );
        return p;
      };
      let nats = await startNats();
      const d = new Node('d', `nats://127.0.0.1:${port}`);
      try {
        await d.start();
        assert.deepEqual(await get(`${d.url}/readyz`), {
          status: 200,
          json: { ok: true, database: 'up', bus: 'up' },
        });
        await new Promise((r) => {
          nats.once('exit', r);
          nats.kill('SIGTERM');
        });
        const down = await until('503', 15_000, async () => {
          const r = await get(`${d.url}/readyz`);
          return r.status === 503 ? r : undefined;
        });
        assert.equal(down.json.ok, false);
        assert.equal(down.json.database, 'up');
        assert.equal(down.json.bus, 'down');
        assert.equal(down.json.error.code, 'service_unavailable');
        // The node still serves its own devices meanwhile.
        const { ws, closed } = await stream('ann1', d);
        nats = await startNats();
        await until('200 again', 15_000, async () => (await get(`${d.url}/readyz`)).status === 200);
        // Graceful shutdown: the device is told "going away" and may reconnect elsewhere.
        assert.equal(await d.stop('SIGTERM'), 0);
        assert.equal(await closed, 1001);
        ws.terminate();
      } finally {
        await d.stop('SIGKILL');
        nats.kill('SIGKILL');
      }
    });

    it('a node whose NATS cannot be reached does not start, and says why in one line', async () => {
      const port = await freePort();
      const r = inst.enclave([
        'server',
        '--data',
        inst.dataDir,
        ...inst.dbFlags,
        '--listen',
        '127.0.0.1:0',
        '--nats',
        `nats://127.0.0.1:${port}`,
        '--json',
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`cannot reach NATS at nats://127\\.0\\.0\\.1:${port}`));
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  },
);
