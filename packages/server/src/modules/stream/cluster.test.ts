import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import {
  type BusEvent,
  type BusEventMap,
  type BusHealth,
  type BusTransport,
  InProcessBus,
} from '../../platform/bus/bus.js';
import type { CommandService } from '../devices/index.js';
import type { MessagingService } from '../messaging/index.js';
import { CLOSE, StreamHub } from './stream.hub.js';

// The stream hub of one process among several: cluster-wide presence, and catching up after the
// link between processes was down (the wake-ups sent meanwhile are lost; the database is not).

type Deliver = <E extends BusEvent>(event: E, payload: BusEventMap[E]) => void;

/** A link between processes that can be cut: what is sent while it is down is lost, as with core NATS. */
class Network {
  up = true;
  readonly members: LinkedTransport[] = [];
  transport(): LinkedTransport {
    const t = new LinkedTransport(this);
    this.members.push(t);
    return t;
  }
  restore(): void {
    this.up = true;
    for (const m of this.members) for (const h of m.reconnect) h();
  }
}

class LinkedTransport implements BusTransport {
  deliver: Deliver | undefined;
  readonly reconnect = new Set<() => void>();
  constructor(private readonly net: Network) {}
  send<E extends BusEvent>(event: E, payload: BusEventMap[E]): void {
    if (!this.net.up) return;
    for (const m of this.net.members) if (m !== this) m.deliver?.(event, structuredClone(payload));
  }
  start(deliver: Deliver): void {
    this.deliver = deliver;
  }
  onReconnect(handler: () => void): () => void {
    this.reconnect.add(handler);
    return () => this.reconnect.delete(handler);
  }
  health(): BusHealth {
    return this.net.up ? { status: 'up' } : { status: 'down', detail: 'test: link cut' };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  readonly sent: { type: string }[] = [];
  closedWith: number | undefined;
  send(data: string): void {
    this.sent.push(JSON.parse(data) as { type: string });
  }
  close(code: number): void {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    this.closedWith = code;
    this.emit('close', code);
  }
  ping(): void {}
  terminate(): void {
    this.close(1006);
  }
}

const log = { warn: () => undefined, info: () => undefined } as unknown as FastifyBaseLogger;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, f: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !f(); i++) await sleep(10);
  assert.ok(f(), what);
}

/** One process: a hub whose queue and command reads are counted, and devices we can revoke. */
function processOn(net: Network) {
  const reads = { queue: 0, commands: 0 };
  const revoked = new Set<string>();
  const messaging = {
    queue: () => {
      reads.queue++;
      return Promise.resolve({ items: [], more: false });
    },
  } as unknown as MessagingService;
  const commands = {
    pendingFor: () => {
      reads.commands++;
      return Promise.resolve([]);
    },
  } as unknown as CommandService;
  const bus = new InProcessBus(undefined, net.transport());
  const hub = new StreamHub(messaging, commands, bus, log, {
    presenceIntervalMs: 40,
    inactiveAmong: (ids) => Promise.resolve(ids.filter((id) => revoked.has(id))),
  });
  const connect = (deviceId: string) => {
    const socket = new FakeSocket();
    hub.attach(
      socket as unknown as WebSocket,
      { kind: 'device', deviceId, userId: 'u', userEmail: 'u@x' },
      0,
    );
    return socket;
  };
  return { hub, bus, reads, revoked, connect };
}

const hubs: StreamHub[] = [];
after(() => hubs.forEach((h) => h.close()));

describe('stream hub in a cluster', () => {
  it('counts the devices connected to every process, and stops counting a process that closed', async () => {
    const net = new Network();
    const one = processOn(net);
    const two = processOn(net);
    hubs.push(one.hub, two.hub);
    one.connect('d1');
    one.connect('d2');
    two.connect('d3');
    await until('both see three devices', () =>
      [one, two].every((p) => p.hub.clusterConnectedDevices() === 3),
    );
    assert.equal(one.hub.connectedDevices, 2);
    two.hub.close(); // its device is told to go away, and the others stop counting it at once
    await until('one sees two devices', () => one.hub.clusterConnectedDevices() === 2);
  });

  it('forgets a process it no longer hears from; after the link returns, catches up from the database', async () => {
    const net = new Network();
    const one = processOn(net);
    const two = processOn(net);
    hubs.push(one.hub, two.hub);
    const d1 = one.connect('d1');
    const d2 = one.connect('d2');
    two.connect('d3');
    await until('three devices', () => two.hub.clusterConnectedDevices() === 3);
    net.up = false;
    await until('process one expired on two', () => two.hub.clusterConnectedDevices() === 1);
    // Meanwhile d2 is revoked elsewhere: the revocation event never reaches process one.
    one.revoked.add('d2');
    two.bus.publish('device.revoked', { deviceId: 'd2' });
    await sleep(50);
    assert.equal(d2.closedWith, undefined);
    const before = { ...one.reads };
    net.restore();
    await until('the revoked device is cut off', () => d2.closedWith === CLOSE.revoked);
    await until(
      'queue and commands re-read',
      () => one.reads.queue > before.queue && one.reads.commands > before.commands,
    );
    assert.equal(d1.closedWith, undefined);
    await until('counts are back', () => two.hub.clusterConnectedDevices() === 2);
  });
});
