import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { InProcessBus } from './bus.js';
import { type IpcChannel, IpcTransport, relayBusMessages } from './ipc.js';

/** A worker's IPC end wired to a fake primary: `send` goes to the primary's relay (asynchronously, as IPC). */
class FakeWorker extends EventEmitter implements IpcChannel {
  connected = true;
  readonly sent: unknown[] = [];
  constructor(private readonly primary: (from: FakeWorker, m: unknown) => void) {
    super();
  }
  // The worker's side: process.send
  send = (m: unknown, cb: (err: Error | null) => void): boolean => {
    this.sent.push(m);
    const copy: unknown = JSON.parse(JSON.stringify(m)); // IPC serialises
    setImmediate(() => {
      this.primary(this, copy);
      cb(null);
    });
    return true;
  };
  // The primary's side: cluster Worker#send delivers to this worker's process
  readonly target = {
    send: (m: unknown, cb: (err: Error | null) => void): boolean => {
      setImmediate(() => {
        this.emit('message', m);
        cb(null);
      });
      return true;
    },
    isConnected: () => this.connected,
  };
}

function node(count: number) {
  const workers: FakeWorker[] = [];
  const relay = relayBusMessages(() => workers.map((w) => w.target));
  for (let i = 0; i < count; i++) workers.push(new FakeWorker((from, m) => relay(from.target, m)));
  const invalid: string[] = [];
  const buses = workers.map(
    (w) => new InProcessBus(() => undefined, new IpcTransport(w, (d) => invalid.push(d))),
  );
  return { workers, buses, invalid };
}

const settle = () => new Promise((r) => setTimeout(r, 20));
/** Waits (bounded) until `done()`: delivery crosses several event-loop turns, as real IPC does. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await settle();
}

describe('IpcTransport: the bus between the workers of one node', () => {
  it('runs everywhere-handlers in every worker once, and once-handlers only in the publisher', async () => {
    const { workers, buses } = node(3);
    const everywhere: [number, string[]][] = [];
    const once: number[] = [];
    buses.forEach((b, i) => {
      b.subscribeEverywhere('queue.enqueued', ({ deviceIds }) => void everywhere.push([i, deviceIds]));
      b.subscribe('queue.enqueued', () => void once.push(i));
    });
    buses[1]?.publish('queue.enqueued', { deviceIds: ['d1', 'd2'] });
    await until(() => everywhere.length >= 3);
    await settle(); // nothing more arrives
    assert.deepEqual(
      everywhere.sort((a, b) => a[0] - b[0]),
      [
        [0, ['d1', 'd2']],
        [1, ['d1', 'd2']],
        [2, ['d1', 'd2']],
      ],
    );
    assert.deepEqual(once, [1]);
    assert.equal(workers[1]?.sent.length, 1);
  });

  it('sends the events of one turn of the event loop as one message', async () => {
    const { workers, buses } = node(2);
    const got: string[] = [];
    buses[1]?.subscribeEverywhere('device.revoked', ({ deviceId }) => void got.push(deviceId));
    for (const id of ['a', 'b', 'c']) buses[0]?.publish('device.revoked', { deviceId: id });
    await until(() => got.length >= 3);
    assert.equal(workers[0]?.sent.length, 1);
    assert.deepEqual(got, ['a', 'b', 'c']);
  });

  it('drops and reports what is not a valid event, and still delivers the valid ones', async () => {
    const { workers, buses, invalid } = node(2);
    const got: unknown[] = [];
    buses[1]?.subscribeEverywhere('device.revoked', (p) => void got.push(p));
    buses[1]?.subscribeEverywhere('policy.changed', (p) => void got.push(p));
    workers[1]?.emit('message', {
      t: 'enclave:bus',
      events: [
        ['device.revoked', { deviceId: 42 }],
        ['no.such.event', {}],
        'garbage',
        ['policy.changed', { userIds: 'all', extra: 'stripped' }],
      ],
    });
    workers[1]?.emit('message', { t: 'prom-client:getMetricsReq' }); // someone else's message: ignored
    workers[1]?.emit('message', null);
    await until(() => got.length >= 1);
    await settle();
    assert.deepEqual(got, [{ userIds: 'all' }]);
    assert.equal(invalid.length, 3);
    assert.match(invalid[0] ?? '', /invalid device\.revoked/);
  });

  it('reports down once the primary is gone, and sends nothing then', async () => {
    const { workers, buses } = node(2);
    assert.deepEqual(buses[0]?.health(), { status: 'up' });
    if (workers[0]) workers[0].connected = false;
    buses[0]?.publish('command.queued', { deviceId: 'd' });
    await settle();
    assert.equal(buses[0]?.health().status, 'down');
    assert.equal(workers[0]?.sent.length, 0);
  });
});
