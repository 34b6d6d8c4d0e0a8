import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import { connect } from 'nats';
import { sleep, waitFor } from '../../test-support/messaging-fixtures.js';
import { type BusEvent, type BusEventMap, InProcessBus } from './bus.js';
import { NatsTransport, type NatsTransportLog } from './nats.js';

// The NATS transport against the machine's NATS (ENCLAVE_TEST_NATS_URL), each test on subjects of
// its own so parallel runs stay apart; the reconnect test starts a NATS of its own.
const NATS_URL = process.env.ENCLAVE_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const NATS_SERVER = process.env.ENCLAVE_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

function recordingLog(): NatsTransportLog & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info: () => undefined, warn: (_o, m) => void warnings.push(m) };
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

async function startNats(port: number): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    5000,
    'nats-server listening',
  );
  return child;
}

async function stopNats(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
});

async function node(
  opts: { prefix: string; scope?: string; url?: string },
  log = recordingLog(),
): Promise<{ bus: InProcessBus; transport: NatsTransport; log: typeof log }> {
  const transport = await NatsTransport.connect({
    url: opts.url ?? NATS_URL,
    scope: opts.scope ?? 'installation-1',
    subjectPrefix: opts.prefix,
    log,
  });
  const bus = new InProcessBus(undefined, transport);
  closers.push(() => bus.close());
  return { bus, transport, log };
}

/** Waits until each bus hears the others (their subscriptions are in place on the NATS server). */
async function linked(...buses: InProcessBus[]): Promise<void> {
  const heard = buses.map(() => new Set<string>());
  const stop = buses.map((bus, i) =>
    bus.subscribeEverywhere('presence', ({ processId }) => void heard[i]?.add(processId)),
  );
  await waitFor(
    () => {
      buses.forEach((bus, i) => bus.publish('presence', { processId: `warm-up-${i}`, connectedDevices: 0 }));
      return heard.every((h) => h.size === buses.length);
    },
    10_000,
    'the buses hear each other',
  );
  stop.forEach((s) => s());
}

function collect<E extends BusEvent>(bus: InProcessBus, event: E, everywhere = true): BusEventMap[E][] {
  const got: BusEventMap[E][] = [];
  if (everywhere) bus.subscribeEverywhere(event, (p) => void got.push(p));
  else bus.subscribe(event, (p) => void got.push(p));
  return got;
}

describe('NATS bus transport', () => {
  it('carries events to the other nodes, once, and never echoes a node its own', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const a = await node({ prefix });
    const b = await node({ prefix });
    await linked(a.bus, b.bus);
    const onA = collect(a.bus, 'device.revoked');
    const onB = collect(b.bus, 'device.revoked');
    const onceOnB = collect(b.bus, 'device.revoked', false);
    a.bus.publish('device.revoked', { deviceId: 'd-1' });
    b.bus.publish('device.revoked', { deviceId: 'd-2' });
    await waitFor(() => onA.length === 2 && onB.length === 2, 10_000, 'both events on both nodes');
    await sleep(200); // an echo would arrive within this
    assert.deepEqual(onA.map((p) => p.deviceId).sort(), ['d-1', 'd-2']);
    assert.deepEqual(onB.map((p) => p.deviceId).sort(), ['d-1', 'd-2']);
    // Once-only side effects stay in the publishing process.
    assert.deepEqual(onceOnB, [{ deviceId: 'd-2' }]);
    assert.equal(a.bus.health().status, 'up');
  });

  it('drops, and logs, what is malformed or from another installation; delivers what follows', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const b = await node({ prefix });
    const other = await node({ prefix, scope: 'installation-2' });
    const got = collect(b.bus, 'device.revoked');
    const nc = await connect({ servers: NATS_URL });
    closers.push(() => nc.close());
    const raw = (subject: string, body: unknown) =>
      nc.publish(`${prefix}.${subject}`, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
    await waitFor(
      () => {
        raw('device.revoked', { o: 'x', s: 'installation-1', p: { deviceId: 'warm-up' } });
        return got.length > 0;
      },
      10_000,
      'the subscription in place',
    );
    await sleep(200);
    got.length = 0;
    raw('device.revoked', 'not json {');
    raw('device.revoked', { deviceId: 'no-envelope' });
    raw('device.revoked', { o: 'x', s: 'installation-1', p: { deviceId: 42 } });
    raw('device.revoked', { o: 'x', s: 'installation-1', p: { deviceId: 'x'.repeat(10_000) } });
    raw('no.such.event', { o: 'x', s: 'installation-1', p: {} });
    other.bus.publish('device.revoked', { deviceId: 'other-installation' });
    raw('device.revoked', { o: 'x', s: 'installation-1', p: { deviceId: 'valid' } });
    await waitFor(() => got.length >= 1, 10_000, 'the valid event');
    await sleep(200);
    assert.deepEqual(got, [{ deviceId: 'valid' }]);
    assert.deepEqual(b.log.warnings, [
      'bus message dropped: not JSON',
      'bus message dropped: no valid envelope',
      'bus message dropped: invalid payload',
      'bus message dropped: invalid payload',
      'bus message dropped: unknown event',
    ]);
  });

  it('splits a wake-up for very many devices into messages NATS accepts', async () => {
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const a = await node({ prefix });
    const b = await node({ prefix });
    await linked(a.bus, b.bus);
    const got = collect(b.bus, 'queue.enqueued');
    const deviceIds = Array.from({ length: 40_000 }, () => randomUUID()); // ~1.6 MB of JSON
    a.bus.publish('queue.enqueued', { deviceIds });
    await waitFor(() => got.flatMap((p) => p.deviceIds).length === deviceIds.length, 15_000, 'all ids');
    assert.deepEqual(
      got.flatMap((p) => p.deviceIds),
      deviceIds,
    );
    assert.deepEqual(a.log.warnings, []);
  });

  it('refuses to start when NATS is unreachable, in one line without credentials', async () => {
    const port = await freePort();
    await assert.rejects(
      NatsTransport.connect({ url: `nats://enclave:s3cret@127.0.0.1:${port}`, scope: 's' }),
      (err: Error) => {
        assert.match(err.message, new RegExp(`^cannot reach NATS at nats://127\\.0\\.0\\.1:${port}: \\S+`));
        assert.doesNotMatch(err.message, /s3cret|\n/);
        return true;
      },
    );
  });

  it('reports down while NATS is away, reconnects by itself and says so', async () => {
    const port = await freePort();
    let server = await startNats(port);
    closers.push(() => stopNats(server));
    const prefix = `t${randomUUID().slice(0, 8)}`;
    const url = `nats://127.0.0.1:${port}`;
    const a = await node({ prefix, url });
    const b = await node({ prefix, url });
    let reconnects = 0;
    b.bus.onReconnect(() => void reconnects++);
    const got = collect(b.bus, 'command.queued');
    await stopNats(server);
    await waitFor(() => b.bus.health().status === 'down', 15_000, 'bus down');
    assert.match(b.bus.health().detail ?? '', /^nats: /);
    server = await startNats(port);
    await waitFor(() => a.bus.health().status === 'up' && b.bus.health().status === 'up', 20_000, 'bus up');
    await waitFor(() => reconnects >= 1, 10_000, 'the reconnect handler');
    await linked(a.bus, b.bus); // b's subscription is renewed on the restarted server
    a.bus.publish('command.queued', { deviceId: 'after-outage' });
    await waitFor(() => got.length === 1, 10_000, 'an event after the outage');
    assert.deepEqual(got, [{ deviceId: 'after-outage' }]);
  });
});
