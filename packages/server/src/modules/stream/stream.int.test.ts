import assert from 'node:assert/strict';
import type { AddressInfo, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import { MAX_CLIENT_FRAME_BYTES } from '@enclave/protocol';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import {
  ackAll,
  blob,
  drain,
  establish,
  People,
  sleep,
  type TestDevice,
  waitFor,
} from '../../test-support/messaging-fixtures.js';
import { CLOSE, SLOW_CONSUMER_MS } from './stream.hub.js';

// Frames as the server sends them; the assertions read them field by field.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Frame = any;

let t: TestEnclave;
let people: People;
let base: string;
const open = new Set<WebSocket>();

/** A test client: records every frame and the close code; every wait is bounded. */
class Client {
  readonly frames: Frame[] = [];
  closed: { code: number; reason: string } | undefined;
  private constructor(readonly ws: WebSocket) {
    open.add(ws);
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { binary: true } : JSON.parse((data as Buffer).toString('utf8')));
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: String(reason) };
      open.delete(ws);
    });
    ws.on('error', () => undefined); // the close event carries what the tests assert
  }

  static async connect(opts: { token?: string; after?: number; ready?: boolean } = {}): Promise<Client> {
    const url = `${base}/api/v1/stream${opts.after !== undefined ? `?after=${opts.after}` : ''}`;
    const ws = new WebSocket(url, opts.token ? { headers: { authorization: `Bearer ${opts.token}` } } : {});
    const c = new Client(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    if (opts.ready !== false && opts.token) await c.next('ready');
    return c;
  }

  sendJson(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Waits for the next frame of `type` not yet taken (frames are consumed in order of arrival). */
  private taken = new Set<Frame>();
  async next(type: string, ms = 3000): Promise<Frame> {
    const f = await waitFor(
      () => this.frames.find((x) => x.type === type && !this.taken.has(x)),
      ms,
      `a ${type} frame`,
    );
    this.taken.add(f);
    return f;
  }

  deliveries(): Frame[] {
    return this.frames.filter((f) => f.type === 'deliver').map((f) => f.item);
  }

  async waitClosed(ms = 3000): Promise<{ code: number; reason: string }> {
    return waitFor(() => this.closed, ms, 'the socket to close');
  }

  /** A ping answered proves the connection still works. */
  async roundTrip(): Promise<void> {
    const tt = Math.random();
    this.sendJson({ type: 'ping', t: tt });
    await waitFor(
      () => this.frames.some((f) => f.type === 'pong' && f.t === tt),
      3000,
      'a pong with the same t',
    );
  }

  close(): void {
    this.ws.close();
  }
}

let s1: TestDevice; // sender
let r1: TestDevice; // receiver
let conv: { id: string; epoch: number };

const send = async (from: TestDevice, ciphertext = blob(), messageId: string = crypto.randomUUID()) => {
  const r = await t.inject('POST', `/api/v1/conversations/${conv.id}/messages`, {
    token: from.token,
    body: { epoch: conv.epoch, messageId, ciphertext },
  });
  assert.equal(r.status, 201, r.text);
  return messageId;
};

before(async () => {
  t = await testEnclave();
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  base = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  people = new People(t);
  await people.user('sam@example.com');
  await people.user('rita@example.com');
  s1 = await people.device('sam@example.com');
  r1 = await people.device('rita@example.com');
  conv = await establish(t, s1, ['rita@example.com']);
  await ackAll(t, r1);
});
after(async () => {
  for (const ws of open) ws.terminate();
  await t.close();
});

describe('GET /api/v1/stream: authentication', () => {
  it('accepts the device token in the Authorization header and says ready', async () => {
    const c = await Client.connect({ token: r1.token });
    const ready = c.frames.find((f) => f.type === 'ready');
    assert.equal(ready.deviceId, r1.deviceId);
    assert.ok(ready.heartbeatMs > 0);
    c.close();
  });

  it('accepts the token in a first auth frame', async () => {
    const c = await Client.connect();
    c.sendJson({ type: 'auth', token: r1.token });
    assert.equal((await c.next('ready')).deviceId, r1.deviceId);
    await c.roundTrip();
    c.close();
  });

  it('closes with 4001 when no auth comes within 5 s', async () => {
    const c = await Client.connect();
    const started = Date.now();
    const closed = await c.waitClosed(7000);
    assert.equal(closed.code, CLOSE.unauthenticated);
    assert.ok(Date.now() - started >= 4500, 'not before the 5 s are up');
  });

  it('closes with 4001 on a wrong token, in the header or in the auth frame', async () => {
    const h = await Client.connect({ token: `end_${blob(24)}`, ready: false });
    assert.equal((await h.waitClosed()).code, CLOSE.unauthenticated);
    const f = await Client.connect();
    f.sendJson({ type: 'auth', token: `end_${blob(24)}` });
    assert.equal((await f.waitClosed()).code, CLOSE.unauthenticated);
    assert.ok(!h.frames.some((x) => x.type === 'ready') && !f.frames.some((x) => x.type === 'ready'));
  });

  it('closes with 4001 when the first frame is anything but auth', async () => {
    const c = await Client.connect();
    c.sendJson({ type: 'ping', t: 1 });
    assert.equal((await c.waitClosed()).code, CLOSE.unauthenticated);
  });

  it('keeps an unauthenticated socket from receiving anything', async () => {
    const c = await Client.connect();
    await send(s1);
    await sleep(200);
    assert.deepEqual(c.frames, []);
    c.ws.terminate();
    await ackAll(t, r1);
  });
});

describe('GET /api/v1/stream: deliveries', () => {
  it('pushes a message live when another device sends, and an ack frame removes it from the queue', async () => {
    await ackAll(t, r1);
    const c = await Client.connect({ token: r1.token });
    const ciphertext = blob(200);
    const id = await send(s1, ciphertext);
    const d = (await c.next('deliver')).item;
    assert.equal(d.messageId, id);
    assert.equal(d.body, ciphertext);
    assert.equal(d.kind, 'application');
    assert.equal(d.senderEmail, 'sam@example.com');
    assert.equal(d.senderDeviceId, s1.deviceId);
    assert.equal(d.conversationId, conv.id);
    c.sendJson({ type: 'ack', seqs: [d.seq] });
    await waitFor(async () => (await drain(t, r1)).length === 0, 3000, 'the queue to empty');
    await c.roundTrip();
    c.close();
  });

  it('delivers in order, and re-delivers exactly the unacknowledged ones after a reconnect with ?after=0', async () => {
    await ackAll(t, r1);
    const c = await Client.connect({ token: r1.token });
    const ids = [await send(s1), await send(s1), await send(s1)];
    await waitFor(() => c.deliveries().length === 3, 3000, 'three deliveries');
    const got = c.deliveries();
    assert.deepEqual(
      got.map((x: Frame) => x.messageId),
      ids,
    );
    c.sendJson({ type: 'ack', seqs: [got[0].seq] });
    await waitFor(async () => (await drain(t, r1)).length === 2, 3000, 'the first ack');
    c.close();
    await c.waitClosed();

    const again = await Client.connect({ token: r1.token, after: 0 });
    await waitFor(() => again.deliveries().length >= 2, 3000, 'the re-delivery');
    await sleep(200); // nothing more may come
    assert.deepEqual(
      again.deliveries().map((x: Frame) => x.messageId),
      ids.slice(1),
    );
    assert.deepEqual(
      again.deliveries().map((x: Frame) => x.seq),
      got.slice(1).map((x: Frame) => x.seq),
    );
    again.sendJson({ type: 'ack', seqs: again.deliveries().map((x: Frame) => x.seq) });
    await waitFor(async () => (await drain(t, r1)).length === 0, 3000, 'the queue to empty');
    again.close();
  });

  it('delivers a burst sent at once exactly once each, in queue order', async () => {
    await ackAll(t, r1);
    const c = await Client.connect({ token: r1.token });
    const ids = await Promise.all(Array.from({ length: 40 }, () => send(s1)));
    await waitFor(() => c.deliveries().length >= 40, 5000, 'forty deliveries');
    await sleep(150); // nothing more may come
    const got = c.deliveries();
    assert.equal(got.length, 40);
    assert.deepEqual(new Set(got.map((x: Frame) => x.messageId)), new Set(ids));
    const seqs = got.map((x: Frame) => x.seq as number);
    assert.deepEqual(
      seqs,
      [...seqs].sort((a, b) => a - b),
    );
    c.close();
    await ackAll(t, r1);
  });

  it('resumes after the seq given in ?after= without repeating what the device already processed', async () => {
    await ackAll(t, r1);
    const ids = [await send(s1), await send(s1), await send(s1)];
    const queued = await drain(t, r1);
    const c = await Client.connect({ token: r1.token, after: queued[0]!.seq });
    await waitFor(() => c.deliveries().length >= 2, 3000, 'two deliveries');
    await sleep(150);
    assert.deepEqual(
      c.deliveries().map((x: Frame) => x.messageId),
      ids.slice(1),
    );
    c.close();
    await ackAll(t, r1);
  });

  it("delivers to every connection of the device and to the sender's other device, never to the sender", async () => {
    await ackAll(t, r1);
    const s2 = await people.device('sam@example.com');
    await waitFor(
      async () => {
        const m = await t.inject('GET', `/api/v1/conversations/${conv.id}/members`, { token: s1.token });
        return (m.json.devices as { deviceId: string }[]).some((d) => d.deviceId === s2.deviceId);
      },
      3000,
      's2 pending_add',
    );
    const pending = (await t.inject('GET', `/api/v1/conversations/${conv.id}/pending`, { token: s1.token }))
      .json;
    assert.ok(pending.adds.some((a: { deviceId: string }) => a.deviceId === s2.deviceId));
    const cm = await t.inject('POST', `/api/v1/conversations/${conv.id}/commits`, {
      token: s1.token,
      body: { epoch: conv.epoch, commit: blob(), welcome: blob(), addedDeviceIds: [s2.deviceId] },
    });
    assert.equal(cm.status, 201, cm.text);
    conv.epoch = cm.json.epoch;
    await ackAll(t, r1);
    await ackAll(t, s2);

    const [sender, other, ra, rb] = await Promise.all([
      Client.connect({ token: s1.token }),
      Client.connect({ token: s2.token }),
      Client.connect({ token: r1.token }),
      Client.connect({ token: r1.token }),
    ]);
    const id = await send(s1);
    for (const c of [other, ra, rb]) assert.equal((await c.next('deliver')).item.messageId, id);
    await sleep(150);
    assert.deepEqual(sender.deliveries(), []);
    for (const c of [sender, other, ra, rb]) c.close();
    await ackAll(t, r1);
    await ackAll(t, s2);
  });
});

describe('GET /api/v1/stream: sending', () => {
  const sendFrame = (c: Client, messageId: string, over: Record<string, unknown> = {}) =>
    c.sendJson({
      type: 'send',
      conversationId: conv.id,
      epoch: conv.epoch,
      messageId,
      ciphertext: blob(100),
      ...over,
    });

  it('stores a message sent as a frame, answers sent, and delivers it live in order; a resend is a duplicate', async () => {
    await ackAll(t, r1);
    const [sender, receiver] = await Promise.all([
      Client.connect({ token: s1.token }),
      Client.connect({ token: r1.token }),
    ]);
    const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    for (const id of ids) sendFrame(sender, id);
    const sent = [await sender.next('sent'), await sender.next('sent'), await sender.next('sent')];
    assert.deepEqual(
      sent.map((f: Frame) => f.messageId),
      ids,
    );
    for (const f of sent) {
      assert.equal(f.conversationId, conv.id);
      assert.equal(f.duplicate, false);
      assert.ok(f.seq > 0);
    }
    await waitFor(() => receiver.deliveries().length === 3, 3000, 'three deliveries');
    assert.deepEqual(
      receiver.deliveries().map((x: Frame) => x.messageId),
      ids,
    );
    assert.equal(receiver.deliveries()[0].senderDeviceId, s1.deviceId);
    // The same message id again: stored once, delivered once.
    sendFrame(sender, ids[0]!);
    assert.equal((await sender.next('sent')).duplicate, true);
    await sleep(150);
    assert.equal(receiver.deliveries().length, 3);
    assert.deepEqual(sender.deliveries(), []);
    // It is the same queue as over HTTP: acknowledged over the stream, it is gone.
    receiver.sendJson({ type: 'ack', seqs: receiver.deliveries().map((x: Frame) => x.seq) });
    await waitFor(async () => (await drain(t, r1)).length === 0, 3000, 'the queue to empty');
    sender.close();
    receiver.close();
  });

  it("answers a refused send with the HTTP route's error code and its messageId, and stays usable", async () => {
    const c = await Client.connect({ token: s1.token });
    const stale = crypto.randomUUID();
    sendFrame(c, stale, { epoch: conv.epoch + 5 });
    let e = await c.next('error');
    assert.equal(e.code, 'stale_epoch');
    assert.equal(e.messageId, stale);
    const elsewhere = crypto.randomUUID();
    sendFrame(c, elsewhere, { conversationId: crypto.randomUUID() });
    e = await c.next('error');
    assert.equal(e.code, 'conversation_not_found');
    assert.equal(e.messageId, elsewhere);
    sendFrame(c, crypto.randomUUID(), { ciphertext: 'not base64!' });
    assert.equal((await c.next('error')).code, 'invalid_frame');
    await c.roundTrip();
    assert.equal(c.closed, undefined);
    const r = await drain(t, r1);
    assert.ok(!r.some((i) => i.messageId === stale || i.messageId === elsewhere));
    c.close();
  });

  it('refuses a device that is not a member of the conversation', async () => {
    await people.user('olga@example.com');
    const outsider = await people.device('olga@example.com');
    const c = await Client.connect({ token: outsider.token });
    const id = crypto.randomUUID();
    sendFrame(c, id);
    const e = await c.next('error');
    assert.equal(e.code, 'not_a_member');
    assert.equal(e.messageId, id);
    c.close();
  });
});

describe('GET /api/v1/stream: frames', () => {
  it('answers a ping with a pong carrying the same t', async () => {
    const c = await Client.connect({ token: r1.token });
    c.sendJson({ type: 'ping', t: 1234.5 });
    assert.equal((await c.next('pong')).t, 1234.5);
    c.close();
  });

  for (const [what, payload] of [
    ['text that is not JSON', '{not json'],
    ['an unknown type', JSON.stringify({ type: 'subscribe', channel: 'all' })],
    ['a field of the wrong type', JSON.stringify({ type: 'ping', t: 'now' })],
    ['an ack with non-numeric seqs', JSON.stringify({ type: 'ack', seqs: ['1'] })],
    ['an unknown extra field', JSON.stringify({ type: 'ping', t: 1, extra: true })],
    ['a JSON value that is not an object', '42'],
    ['a second auth frame', JSON.stringify({ type: 'auth', token: 'end_0123456789abcdef' })],
    ['a binary frame', Buffer.from([0, 1, 2, 3])],
  ] as const) {
    it(`answers ${what} with an invalid_frame error and stays usable`, async () => {
      const c = await Client.connect({ token: r1.token });
      c.ws.send(payload);
      const e = await c.next('error');
      assert.equal(e.code, 'invalid_frame');
      assert.equal(typeof e.message, 'string');
      await c.roundTrip();
      assert.equal(c.closed, undefined);
      c.close();
    });
  }

  it(`closes with 1009 on a frame over ${MAX_CLIENT_FRAME_BYTES} bytes, and keeps serving others`, async () => {
    const c = await Client.connect({ token: r1.token });
    const bystander = await Client.connect({ token: s1.token });
    c.ws.send(JSON.stringify({ type: 'ping', t: 1, pad: 'x'.repeat(MAX_CLIENT_FRAME_BYTES) }));
    assert.equal((await c.waitClosed()).code, 1009);
    await bystander.roundTrip();
    const fresh = await Client.connect({ token: r1.token });
    await fresh.roundTrip();
    fresh.close();
    bystander.close();
  });

  it('accepts a frame of just under the limit', async () => {
    const c = await Client.connect({ token: r1.token });
    const frame = JSON.stringify({ type: 'ping', t: 7 });
    c.ws.send(frame.slice(0, -1) + ' '.repeat(MAX_CLIENT_FRAME_BYTES - frame.length) + '}');
    assert.equal((await c.next('pong')).t, 7);
    c.close();
  });
});

describe('GET /api/v1/stream: revocation', () => {
  let victim: TestDevice;

  before(async () => {
    await people.user('victim@example.com');
    victim = await people.device('victim@example.com');
  });

  it('closes the socket of a device within a second of its revocation, with 4003', async () => {
    const c = await Client.connect({ token: victim.token });
    const started = Date.now();
    await people.revoke(victim.deviceId);
    const closed = await c.waitClosed(1000);
    assert.equal(closed.code, CLOSE.revoked);
    assert.ok(Date.now() - started <= 1000);
  });

  it("refuses a revoked device's token with 4003, in the header or in the auth frame", async () => {
    const h = await Client.connect({ token: victim.token, ready: false });
    assert.equal((await h.waitClosed()).code, CLOSE.revoked);
    const f = await Client.connect();
    f.sendJson({ type: 'auth', token: victim.token });
    assert.equal((await f.waitClosed()).code, CLOSE.revoked);
  });
});

describe('GET /api/v1/stream: slow consumers', () => {
  const big = () => blob(700 * 1024); // ~0.95 MB of JSON per delivery

  it('keeps pushing to a device that reads, even a backlog of large messages', async () => {
    await ackAll(t, r1);
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) ids.push(await send(s1, big()));
    const c = await Client.connect({ token: r1.token, after: 0 });
    await waitFor(() => c.deliveries().length === ids.length || c.closed, 10_000, 'all 24 deliveries');
    assert.equal(c.closed, undefined, `a reader that keeps up is not cut off: ${JSON.stringify(c.closed)}`);
    assert.deepEqual(
      c.deliveries().map((x: Frame) => x.messageId),
      ids,
    );
    c.close();
    await ackAll(t, r1);
  });

  it(
    `cuts off a device that stops reading (4008) after ${SLOW_CONSUMER_MS} ms without progress; its queue keeps everything`,
    { timeout: SLOW_CONSUMER_MS + 30_000 },
    async () => {
      await ackAll(t, r1);
      const c = await Client.connect({ token: r1.token });
      // Stop reading: the kernel buffers fill up, then the server's send buffer.
      const raw = (c.ws as unknown as { _socket: Socket })._socket;
      raw.pause();
      const ids: string[] = [];
      for (let i = 0; i < 24; i++) ids.push(await send(s1, big()));
      await sleep(SLOW_CONSUMER_MS + 1500);
      raw.resume();
      const closed = await c.waitClosed(10_000);
      assert.equal(closed.code, CLOSE.slowConsumer);
      const seen = c.deliveries();
      assert.ok(seen.length < ids.length, 'it was cut off before everything was pushed');
      assert.deepEqual(
        seen.map((x: Frame) => x.messageId),
        ids.slice(0, seen.length),
      );
      assert.deepEqual(
        (await drain(t, r1)).map((x) => x.messageId),
        ids,
        'nothing is lost',
      );
      const again = await Client.connect({ token: r1.token, after: seen.at(-1)?.seq ?? 0 });
      await waitFor(
        () => again.deliveries().length === ids.length - seen.length || again.closed,
        10_000,
        'the rest',
      );
      assert.deepEqual(
        again.deliveries().map((x: Frame) => x.messageId),
        ids.slice(seen.length),
      );
      again.close();
      await ackAll(t, r1);
    },
  );
});

describe('GET /api/v1/stream: membership requests', () => {
  it('asks a connected member to commit when a device joins and when one is revoked', async () => {
    await ackAll(t, r1);
    const member = await Client.connect({ token: r1.token });
    const r2 = await people.device('rita@example.com');
    assert.equal((await member.next('membership')).conversationId, conv.id);
    const p = await t.inject('GET', `/api/v1/conversations/${conv.id}/pending`, { token: r1.token });
    assert.deepEqual(
      p.json.adds.map((a: { deviceId: string }) => a.deviceId),
      [r2.deviceId],
    );
    const add = await t.inject('POST', `/api/v1/conversations/${conv.id}/commits`, {
      token: r1.token,
      body: { epoch: conv.epoch, commit: blob(), welcome: blob(), addedDeviceIds: [r2.deviceId] },
    });
    assert.equal(add.status, 201, add.text);
    conv.epoch = add.json.epoch;

    await people.revoke(r2.deviceId);
    assert.equal((await member.next('membership')).conversationId, conv.id);
    const p2 = await t.inject('GET', `/api/v1/conversations/${conv.id}/pending`, { token: r1.token });
    assert.deepEqual(
      p2.json.removes.map((a: { deviceId: string }) => a.deviceId),
      [r2.deviceId],
    );
    const rm = await t.inject('POST', `/api/v1/conversations/${conv.id}/commits`, {
      token: r1.token,
      body: { epoch: conv.epoch, commit: blob(), removedDeviceIds: [r2.deviceId] },
    });
    assert.equal(rm.status, 201, rm.text);
    conv.epoch = rm.json.epoch;
    member.close();
  });
});
