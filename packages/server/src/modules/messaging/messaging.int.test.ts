import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KEY_PACKAGE_LOW, KEY_PACKAGE_TARGET, MAX_MESSAGE_BYTES } from '@enclave/protocol';
import { assertClientError, assertError } from '../../test-support/expect.js';
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

// The server is only the MLS Delivery Service: every MLS payload here is random bytes, and the
// assertions are about ordering, fan-out, queues and membership, never about MLS itself.

let t: TestEnclave;
let people: People;

before(async () => {
  t = await testEnclave();
  people = new People(t);
});
after(() => t.close());

const kpStatus = async (d: TestDevice) => {
  const r = await t.inject('GET', '/api/v1/mls/key-packages', { token: d.token });
  assert.equal(r.status, 200, r.text);
  return r.json as { available: number; hasLastResort: boolean; low: boolean; target: number };
};
const uploadKps = async (d: TestDevice, keyPackages: string[], lastResort?: string) => {
  const r = await t.inject('POST', '/api/v1/mls/key-packages', {
    token: d.token,
    body: { keyPackages, ...(lastResort ? { lastResort } : {}) },
  });
  assert.equal(r.status, 200, r.text);
  return r.json as { available: number; hasLastResort: boolean; low: boolean; target: number };
};
const members = async (d: TestDevice, id: string) => {
  const r = await t.inject('GET', `/api/v1/conversations/${id}/members`, { token: d.token });
  assert.equal(r.status, 200, r.text);
  return r.json as {
    epoch: number;
    devices: { deviceId: string; userEmail: string; state: string; certificateFingerprint: string }[];
  };
};
const stateOf = async (d: TestDevice, id: string, deviceId: string) =>
  (await members(d, id)).devices.find((x) => x.deviceId === deviceId)?.state;
const send = (
  d: TestDevice,
  id: string,
  epoch: number,
  ciphertext = blob(),
  messageId: string = crypto.randomUUID(),
) =>
  t.inject('POST', `/api/v1/conversations/${id}/messages`, {
    token: d.token,
    body: { epoch, messageId, ciphertext },
  });
const commit = (d: TestDevice, id: string, body: Record<string, unknown>) =>
  t.inject('POST', `/api/v1/conversations/${id}/commits`, {
    token: d.token,
    body: { commit: blob(), ...body },
  });
const messageRows = (clientMessageId: string) =>
  t.enclave.handle.db
    .selectFrom('messages')
    .selectAll()
    .where('client_message_id', '=', clientMessageId)
    .execute();

describe('POST /api/v1/mls/key-packages', () => {
  let owner: TestDevice;
  let claimer: TestDevice;

  before(async () => {
    await people.user('kp-owner@example.com');
    await people.user('kp-claimer@example.com');
    owner = await people.device('kp-owner@example.com', { keyPackages: 0, lastResort: false });
    claimer = await people.device('kp-claimer@example.com');
  });

  it('reports an empty stock as low, with the target to top up to', async () => {
    assert.deepEqual(await kpStatus(owner), {
      available: 0,
      hasLastResort: false,
      low: true,
      target: KEY_PACKAGE_TARGET,
    });
  });

  it(`says the stock is low below ${KEY_PACKAGE_LOW} one-time packages and not at ${KEY_PACKAGE_LOW}`, async () => {
    const s1 = await uploadKps(
      owner,
      Array.from({ length: KEY_PACKAGE_LOW - 1 }, () => blob()),
    );
    assert.equal(s1.available, KEY_PACKAGE_LOW - 1);
    assert.equal(s1.low, true);
    const s2 = await uploadKps(owner, [blob()], blob());
    assert.deepEqual(s2, {
      available: KEY_PACKAGE_LOW,
      hasLastResort: true,
      low: false,
      target: KEY_PACKAGE_TARGET,
    });
  });

  it('rejects a KeyPackage that is not base64url', async () => {
    const r = await t.inject('POST', '/api/v1/mls/key-packages', {
      token: owner.token,
      body: { keyPackages: ['not base64!'] },
    });
    assertError(r, 400, 'validation_failed');
  });

  it('hands out one-time packages oldest first through /pending, then the last-resort one without consuming it', async () => {
    // A fresh device with three uploads at distinct times: [a1 a2] < [b1] < last resort.
    await people.user('kp-fresh@example.com');
    const fresh = await people.device('kp-fresh@example.com', { keyPackages: 0, lastResort: false });
    const a = [blob(), blob()];
    await uploadKps(fresh, a);
    await sleep(5);
    const b = blob();
    await uploadKps(fresh, [b]);
    await sleep(5);
    const lastResort = blob();
    assert.equal((await uploadKps(fresh, [], lastResort)).available, 3);

    const c = await t.inject('POST', '/api/v1/conversations', {
      token: claimer.token,
      body: { memberEmails: ['kp-fresh@example.com'] },
    });
    assert.equal(c.status, 201, c.text);
    const id = c.json.conversation.id as string;
    const claims = [c.json.pending.adds[0]?.keyPackage as string];
    for (let i = 0; i < 4; i++) {
      const p = await t.inject('GET', `/api/v1/conversations/${id}/pending`, { token: claimer.token });
      assert.equal(p.status, 200, p.text);
      assert.deepEqual(p.json.waiting, []);
      assert.equal(p.json.adds.length, 1);
      assert.equal(p.json.adds[0].deviceId, fresh.deviceId);
      assert.equal(p.json.adds[0].userEmail, 'kp-fresh@example.com');
      claims.push(p.json.adds[0].keyPackage as string);
    }
    assert.deepEqual(new Set(claims.slice(0, 2)), new Set(a), 'the oldest upload is used first');
    assert.equal(claims[2], b);
    assert.deepEqual(
      claims.slice(3),
      [lastResort, lastResort],
      'then the last-resort package, again and again',
    );
    assert.deepEqual(await kpStatus(fresh), {
      available: 0,
      hasLastResort: true,
      low: true,
      target: KEY_PACKAGE_TARGET,
    });
  });

  it('never hands the same one-time package out twice, even to concurrent /pending calls', async () => {
    await people.user('kp-race@example.com');
    const race = await people.device('kp-race@example.com', { keyPackages: 0, lastResort: false });
    const c = await t.inject('POST', '/api/v1/conversations', {
      token: claimer.token,
      body: { memberEmails: ['kp-race@example.com'] },
    });
    const id = c.json.conversation.id as string;
    const kps = Array.from({ length: 6 }, () => blob());
    await uploadKps(race, kps);
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        t.inject('GET', `/api/v1/conversations/${id}/pending`, { token: claimer.token }),
      ),
    );
    const claimed = answers.flatMap((a) => a.json.adds.map((x: { keyPackage: string }) => x.keyPackage));
    assert.equal(new Set(claimed).size, claimed.length, 'a one-time package was handed out twice');
    assert.deepEqual(new Set(claimed), new Set(kps), 'each call got one of the six');
    assert.equal((await kpStatus(race)).available, 0);
  });

  it('replaces the last-resort package when a new one is uploaded', async () => {
    await people.user('kp-replace@example.com');
    const d = await people.device('kp-replace@example.com', { keyPackages: 0, lastResort: false });
    await uploadKps(d, [], blob());
    const second = blob();
    await uploadKps(d, [], second);
    const rows = await t.enclave.handle.db
      .selectFrom('key_packages')
      .select(['key_package'])
      .where('device_id', '=', d.deviceId)
      .execute();
    assert.deepEqual(
      rows.map((r) => r.key_package),
      [second],
    );
  });

  it('lists a device with no KeyPackage at all in `waiting`', async () => {
    await people.user('kp-none@example.com');
    const none = await people.device('kp-none@example.com', { keyPackages: 0, lastResort: false });
    const c = await t.inject('POST', '/api/v1/conversations', {
      token: claimer.token,
      body: { memberEmails: ['kp-none@example.com'] },
    });
    assert.equal(c.status, 201, c.text);
    assert.deepEqual(c.json.pending.adds, []);
    assert.deepEqual(c.json.pending.waiting, [none.deviceId]);
    const p = await t.inject('GET', `/api/v1/conversations/${c.json.conversation.id}/pending`, {
      token: claimer.token,
    });
    assert.deepEqual(p.json.waiting, [none.deviceId]);
    // Once it uploads a KeyPackage, the next /pending hands it out for the add.
    await uploadKps(none, [blob()]);
    const p2 = await t.inject('GET', `/api/v1/conversations/${c.json.conversation.id}/pending`, {
      token: claimer.token,
    });
    assert.deepEqual(p2.json.waiting, []);
    assert.deepEqual(
      p2.json.adds.map((x: { deviceId: string }) => x.deviceId),
      [none.deviceId],
    );
  });
});

describe('conversations, commits and application messages', () => {
  let a1: TestDevice;
  let a2: TestDevice;
  let b1: TestDevice;
  let outsider: TestDevice;
  let conv: string;
  let epoch = 0;
  let welcome: string;
  let firstCommit: string;

  before(async () => {
    await people.user('alice@example.com');
    await people.user('bob@example.com');
    await people.user('carol@example.com');
    await people.user('nodevice@example.com');
    a1 = await people.device('alice@example.com');
    a2 = await people.device('alice@example.com');
    b1 = await people.device('bob@example.com');
    outsider = await people.device('carol@example.com');
  });

  describe('POST /api/v1/conversations', () => {
    it('makes the creating device a member and every other device of both users pending_add', async () => {
      const r = await t.inject('POST', '/api/v1/conversations', {
        token: a1.token,
        body: { memberEmails: ['bob@example.com'] },
      });
      assert.equal(r.status, 201, r.text);
      conv = r.json.conversation.id;
      assert.equal(r.json.conversation.kind, 'direct');
      assert.equal(r.json.conversation.epoch, 0);
      assert.equal(r.json.conversation.membershipPending, true);
      assert.deepEqual(r.json.conversation.memberEmails, ['alice@example.com', 'bob@example.com']);
      assert.deepEqual(
        new Set(r.json.pending.adds.map((x: { deviceId: string }) => x.deviceId)),
        new Set([a2.deviceId, b1.deviceId]),
      );
      const m = await members(a1, conv);
      const states = Object.fromEntries(m.devices.map((d) => [d.deviceId, d.state]));
      assert.deepEqual(states, {
        [a1.deviceId]: 'member',
        [a2.deviceId]: 'pending_add',
        [b1.deviceId]: 'pending_add',
      });
      for (const d of m.devices) assert.match(d.certificateFingerprint, /^[0-9a-f:]{32,}$/i);
    });

    it('does not let a device that is only pending_add read the member list or send', async () => {
      assertError(
        await t.inject('GET', `/api/v1/conversations/${conv}/members`, { token: b1.token }),
        403,
        'not_a_member',
      );
      assertError(await send(b1, conv, 0), 403, 'not_a_member');
    });

    it('lists the conversation for its member device only', async () => {
      const mine = await t.inject('GET', '/api/v1/conversations', { token: a1.token });
      assert.ok((mine.json.items as { id: string }[]).some((c) => c.id === conv));
      const theirs = await t.inject('GET', '/api/v1/conversations', { token: outsider.token });
      assert.ok(!(theirs.json.items as { id: string }[]).some((c) => c.id === conv));
    });

    it('refuses a user who has no active device with 400 recipient_has_no_devices', async () => {
      const r = await t.inject('POST', '/api/v1/conversations', {
        token: a1.token,
        body: { memberEmails: ['nodevice@example.com'] },
      });
      assertError(r, 400, 'recipient_has_no_devices');
      assert.match(r.json.error.message, /nodevice@example\.com/);
    });

    it('refuses an unknown email with 404 user_not_found', async () => {
      const r = await t.inject('POST', '/api/v1/conversations', {
        token: a1.token,
        body: { memberEmails: ['ghost@example.com'] },
      });
      assertError(r, 404, 'user_not_found');
    });

    it('refuses a conversation with nobody else', async () => {
      const r = await t.inject('POST', '/api/v1/conversations', {
        token: a1.token,
        body: { memberEmails: ['alice@example.com'] },
      });
      assertError(r, 400, 'validation_failed');
    });

    it('answers 404 conversation_not_found for an unknown conversation', async () => {
      assertError(
        await t.inject('GET', `/api/v1/conversations/${crypto.randomUUID()}/members`, { token: a1.token }),
        404,
        'conversation_not_found',
      );
    });
  });

  describe('POST /api/v1/conversations/:id/commits', () => {
    it('refuses a commit that adds devices without a Welcome', async () => {
      const r = await commit(a1, conv, { epoch: 0, addedDeviceIds: [a2.deviceId, b1.deviceId] });
      assertError(r, 400, 'validation_failed');
    });

    it('refuses to add a device that is not waiting to be added', async () => {
      const r = await commit(a1, conv, { epoch: 0, welcome: blob(), addedDeviceIds: [outsider.deviceId] });
      assertError(r, 400, 'validation_failed');
    });

    it('accepts the first commit for epoch 0 and moves the conversation to epoch 1', async () => {
      welcome = blob(300);
      firstCommit = blob(200);
      const r = await t.inject('POST', `/api/v1/conversations/${conv}/commits`, {
        token: a1.token,
        body: { epoch: 0, commit: firstCommit, welcome, addedDeviceIds: [a2.deviceId, b1.deviceId] },
      });
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.epoch, 1);
      assert.equal(r.json.conversationId, conv);
      epoch = 1;
      const m = await members(a1, conv);
      assert.equal(m.epoch, 1);
      assert.ok(m.devices.every((d) => d.state === 'member'));
      const list = await t.inject('GET', '/api/v1/conversations', { token: b1.token });
      const c = (list.json.items as { id: string; membershipPending: boolean; epoch: number }[]).find(
        (x) => x.id === conv,
      );
      assert.equal(c?.membershipPending, false);
      assert.equal(c?.epoch, 1);
    });

    it('refuses a second commit for epoch 0 with 409 stale_epoch', async () => {
      const r = await commit(b1, conv, { epoch: 0 });
      assertError(r, 409, 'stale_epoch');
      assert.equal((await members(a1, conv)).epoch, 1);
    });

    it('gives the added devices the Welcome (and not the commit), and the sender nothing', async () => {
      for (const d of [a2, b1]) {
        const q = await drain(t, d);
        assert.equal(q.length, 1, JSON.stringify(q));
        assert.equal(q[0]!.kind, 'welcome');
        assert.equal(q[0]!.body, welcome);
        assert.equal(q[0]!.epoch, 1);
        assert.equal(q[0]!.senderDeviceId, a1.deviceId);
        assert.equal(q[0]!.senderEmail, 'alice@example.com');
        assert.equal(q[0]!.conversationId, conv);
      }
      assert.deepEqual(await drain(t, a1), []);
      await ackAll(t, a2);
      await ackAll(t, b1);
    });

    it('gives a later commit to every other member and nothing to its sender', async () => {
      const body = blob(150);
      const r = await t.inject('POST', `/api/v1/conversations/${conv}/commits`, {
        token: b1.token,
        body: { epoch: 1, commit: body },
      });
      assert.equal(r.status, 201, r.text);
      epoch = 2;
      for (const d of [a1, a2]) {
        const q = await drain(t, d);
        assert.deepEqual(
          q.map((x) => [x.kind, x.epoch, x.body, x.senderEmail]),
          [['commit', 1, body, 'bob@example.com']],
        );
      }
      assert.deepEqual(await drain(t, b1), []);
      await ackAll(t, a1);
      await ackAll(t, a2);
    });

    it('lets only one of two racing commits for the same epoch win', async () => {
      const results = await Promise.all([
        commit(a1, conv, { epoch }),
        commit(b1, conv, { epoch }),
        commit(a2, conv, { epoch }),
      ]);
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [201, 409, 409], results.map((r) => r.text).join('\n'));
      for (const r of results.filter((x) => x.status === 409)) assertError(r, 409, 'stale_epoch');
      epoch += 1;
      assert.equal((await members(a1, conv)).epoch, epoch);
      for (const d of [a1, a2, b1]) await ackAll(t, d);
    });

    it('refuses a commit from a device that is not a member', async () => {
      assertError(await commit(outsider, conv, { epoch }), 403, 'not_a_member');
    });
  });

  describe('POST /api/v1/conversations/:id/messages', () => {
    it('refuses a message for another epoch with 409 stale_epoch', async () => {
      assertError(await send(a1, conv, epoch - 1), 409, 'stale_epoch');
      assertError(await send(a1, conv, epoch + 1), 409, 'stale_epoch');
    });

    it("fans a message out to every member device but the sender, including the sender's other device", async () => {
      const ciphertext = blob(500);
      const messageId = crypto.randomUUID();
      const r = await send(a1, conv, epoch, ciphertext, messageId);
      assert.equal(r.status, 201, r.text);
      assert.equal(r.json.duplicate, false);
      assert.equal(r.json.messageId, messageId);
      for (const d of [a2, b1]) {
        const q = await drain(t, d);
        assert.equal(q.length, 1);
        assert.deepEqual(
          {
            kind: q[0]!.kind,
            messageId: q[0]!.messageId,
            body: q[0]!.body,
            epoch: q[0]!.epoch,
            sender: q[0]!.senderDeviceId,
            email: q[0]!.senderEmail,
          },
          {
            kind: 'application',
            messageId,
            body: ciphertext,
            epoch,
            sender: a1.deviceId,
            email: 'alice@example.com',
          },
        );
      }
      assert.deepEqual(await drain(t, a1), []);
    });

    it('treats the same messageId again as a duplicate and delivers it only once', async () => {
      const messageId = crypto.randomUUID();
      const ciphertext = blob();
      const first = await send(b1, conv, epoch, ciphertext, messageId);
      assert.equal(first.status, 201, first.text);
      assert.equal(first.json.duplicate, false);
      const second = await send(b1, conv, epoch, ciphertext, messageId);
      assert.ok(second.status === 200 || second.status === 201, second.text);
      assert.equal(second.json.duplicate, true);
      assert.equal(second.json.messageId, messageId);
      for (const d of [a1, a2])
        assert.equal((await drain(t, d)).filter((x) => x.messageId === messageId).length, 1);
      assert.equal((await messageRows(messageId)).length, 1);
    });

    it('still treats a resubmitted messageId as a duplicate after every recipient acknowledged it', async () => {
      const messageId = crypto.randomUUID();
      const ciphertext = blob();
      assert.equal((await send(b1, conv, epoch, ciphertext, messageId)).status, 201);
      await ackAll(t, a1);
      await ackAll(t, a2);
      const again = await send(b1, conv, epoch, ciphertext, messageId);
      assert.equal(again.json.duplicate, true, again.text);
      assert.deepEqual(
        (await drain(t, a1)).filter((x) => x.messageId === messageId),
        [],
        'delivered a second time',
      );
      await ackAll(t, a1);
      await ackAll(t, a2);
    });

    it('refuses a device that is not a member with 403 not_a_member', async () => {
      assertError(await send(outsider, conv, epoch), 403, 'not_a_member');
      assertError(
        await t.inject('GET', `/api/v1/conversations/${conv}/pending`, { token: outsider.token }),
        403,
        'not_a_member',
      );
    });

    it('refuses a ciphertext over 1 MiB with 413 and queues nothing', async () => {
      const before = (await drain(t, b1)).length;
      // One byte over the limit, as base64url.
      const ciphertext = Buffer.alloc(MAX_MESSAGE_BYTES + 1, 7).toString('base64url');
      const r = await send(a1, conv, epoch, ciphertext);
      assert.equal(r.status, 413, r.text);
      assertClientError(r);
      assert.equal((await drain(t, b1)).length, before);
    });

    it('accepts a ciphertext of exactly MAX_MESSAGE_BYTES and answers one byte more with message_too_large', async () => {
      const ok = Buffer.alloc(MAX_MESSAGE_BYTES, 9).toString('base64url');
      const messageId = crypto.randomUUID();
      const r = await send(a1, conv, epoch, ok, messageId);
      assert.equal(r.status, 201, r.text.slice(0, 300));
      assert.equal((await drain(t, b1)).find((x) => x.messageId === messageId)?.body, ok);
      assertError(
        await send(a1, conv, epoch, Buffer.alloc(MAX_MESSAGE_BYTES + 1, 7).toString('base64url')),
        413,
        'message_too_large',
      );
    });

    it('stores exactly the bytes that were sent and hands the same bytes out (the DS does not transform ciphertext)', async () => {
      const bytes = Buffer.from(Array.from({ length: 1024 }, (_, i) => i % 256));
      const ciphertext = bytes.toString('base64url');
      const messageId = crypto.randomUUID();
      assert.equal((await send(b1, conv, epoch, ciphertext, messageId)).status, 201);
      const rows = await messageRows(messageId);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.body, ciphertext);
      assert.ok(Buffer.from(rows[0]!.body, 'base64url').equals(bytes));
      assert.equal(rows[0]!.kind, 'application');
      assert.equal(rows[0]!.sender_device_id, b1.deviceId);
      const delivered = (await drain(t, a2)).find((x) => x.messageId === messageId);
      assert.ok(delivered && Buffer.from(delivered.body, 'base64url').equals(bytes));
    });
  });

  describe('GET /api/v1/queue and POST /api/v1/queue/ack', () => {
    it('returns items in seq order after `after`, with the sender, and forgets them when acknowledged', async () => {
      for (const d of [a1, a2, b1]) await ackAll(t, d);
      const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
      for (const id of ids) assert.equal((await send(a1, conv, epoch, blob(), id)).status, 201);
      const q = await t.inject('GET', '/api/v1/queue?after=0', { token: b1.token });
      assert.equal(q.status, 200, q.text);
      const items = q.json.items as { seq: number; messageId: string; senderEmail: string }[];
      assert.deepEqual(
        items.map((x) => x.messageId),
        ids,
      );
      assert.ok(items.every((x, i) => i === 0 || x.seq > items[i - 1]!.seq));
      assert.ok(items.every((x) => x.senderEmail === 'alice@example.com'));
      assert.equal(q.json.more, false);
      const tail = await t.inject('GET', `/api/v1/queue?after=${items[0]!.seq}`, { token: b1.token });
      assert.deepEqual(
        tail.json.items.map((x: { messageId: string }) => x.messageId),
        ids.slice(1),
      );

      const ack = await t.inject('POST', '/api/v1/queue/ack', {
        token: b1.token,
        body: { seqs: items.slice(0, 2).map((x) => x.seq) },
      });
      assert.equal(ack.status, 200, ack.text);
      assert.equal(ack.json.acknowledged, 2);
      assert.deepEqual(
        (await drain(t, b1)).map((x) => x.messageId),
        ids.slice(2),
      );
      // Acknowledging again, or someone else's seq, changes nothing.
      assert.equal(
        (await t.inject('POST', '/api/v1/queue/ack', { token: b1.token, body: { seqs: [items[0]!.seq] } }))
          .json.acknowledged,
        0,
      );
      const a2Items = await drain(t, a2);
      assert.equal(
        (
          await t.inject('POST', '/api/v1/queue/ack', {
            token: b1.token,
            body: { seqs: a2Items.map((x) => x.seq) },
          })
        ).json.acknowledged,
        0,
      );
      assert.equal((await drain(t, a2)).length, a2Items.length);
    });

    it('drops the ciphertext once every recipient has acknowledged it (the id stays for idempotency)', async () => {
      const messageId = crypto.randomUUID();
      assert.equal((await send(a1, conv, epoch, blob(), messageId)).status, 201);
      assert.equal((await messageRows(messageId)).length, 1);
      const seqOf = async (d: TestDevice) => (await drain(t, d)).find((x) => x.messageId === messageId)!.seq;
      await t.inject('POST', '/api/v1/queue/ack', { token: b1.token, body: { seqs: [await seqOf(b1)] } });
      assert.notEqual((await messageRows(messageId))[0]?.body, '', 'a2 has not acknowledged yet');
      await t.inject('POST', '/api/v1/queue/ack', { token: a2.token, body: { seqs: [await seqOf(a2)] } });
      assert.equal((await messageRows(messageId))[0]?.body, '', 'no ciphertext is kept after the last ack');
      const left = await t.enclave.handle.db
        .selectFrom('deliveries')
        .innerJoin('messages', 'messages.id', 'deliveries.message_id')
        .select('deliveries.seq')
        .where('messages.client_message_id', '=', messageId)
        .execute();
      assert.deepEqual(left, []);
    });

    it('rejects a bad query and an empty ack', async () => {
      assertError(
        await t.inject('GET', '/api/v1/queue?limit=0', { token: b1.token }),
        400,
        'validation_failed',
      );
      assertError(
        await t.inject('GET', '/api/v1/queue?after=-1', { token: b1.token }),
        400,
        'validation_failed',
      );
      assertError(
        await t.inject('POST', '/api/v1/queue/ack', { token: b1.token, body: { seqs: [] } }),
        400,
        'validation_failed',
      );
    });

    it('needs a device token', async () => {
      assertError(await t.inject('GET', '/api/v1/queue'), 401, 'unauthenticated');
    });
  });
});

describe('an offline device', () => {
  it('gets 100 queued messages in order, once each, across pages', async () => {
    await people.user('sender100@example.com');
    await people.user('offline100@example.com');
    const s = await people.device('sender100@example.com');
    const r = await people.device('offline100@example.com');
    const c = await establish(t, s, ['offline100@example.com']);
    await ackAll(t, r); // the Welcome
    const sent: string[] = [];
    for (let i = 0; i < 100; i++) {
      const id = crypto.randomUUID();
      sent.push(id);
      assert.equal((await send(s, c.id, c.epoch, blob(32), id)).status, 201);
    }
    const got: string[] = [];
    let afterSeq = 0;
    let pages = 0;
    for (;;) {
      const p = await t.inject('GET', `/api/v1/queue?after=${afterSeq}&limit=30`, { token: r.token });
      assert.equal(p.status, 200, p.text);
      pages++;
      assert.ok(p.json.items.length <= 30);
      got.push(...p.json.items.map((x: { messageId: string }) => x.messageId));
      if (!p.json.more) break;
      afterSeq = p.json.items.at(-1).seq;
      assert.ok(pages < 10, 'paging does not end');
    }
    assert.equal(pages, 4);
    assert.deepEqual(got, sent);
    await ackAll(t, r);
    assert.deepEqual(await drain(t, r), []);
  });
});

describe('multi-device and revocation', () => {
  let u1: TestDevice;
  let u2: TestDevice;
  let v1: TestDevice;
  let u3: TestDevice;
  let conv: string;
  let epoch: number;

  before(async () => {
    await people.user('uma@example.com');
    await people.user('victor@example.com');
    u1 = await people.device('uma@example.com');
    u2 = await people.device('uma@example.com');
    v1 = await people.device('victor@example.com');
    ({ id: conv, epoch } = await establish(t, u1, ['victor@example.com'], 'Project'));
    for (const d of [u1, u2, v1]) await ackAll(t, d);
  });

  it("makes a newly activated device of a member pending_add in the user's conversations", async () => {
    u3 = await people.device('uma@example.com', { keyPackages: 0, lastResort: false });
    await waitFor(
      async () => (await stateOf(v1, conv, u3.deviceId)) === 'pending_add',
      3000,
      'u3 pending_add',
    );
    const list = await t.inject('GET', '/api/v1/conversations', { token: u1.token });
    assert.equal(
      (list.json.items as { id: string; membershipPending: boolean }[]).find((c) => c.id === conv)
        ?.membershipPending,
      true,
    );
    // It waits until it has a KeyPackage, then a member adds it.
    const p0 = await t.inject('GET', `/api/v1/conversations/${conv}/pending`, { token: v1.token });
    assert.deepEqual(p0.json.waiting, [u3.deviceId]);
    await uploadKps(u3, [blob()], blob());
    const p = await t.inject('GET', `/api/v1/conversations/${conv}/pending`, { token: v1.token });
    assert.deepEqual(
      p.json.adds.map((x: { deviceId: string }) => x.deviceId),
      [u3.deviceId],
    );
    const w = blob();
    const r = await commit(v1, conv, { epoch, welcome: w, addedDeviceIds: [u3.deviceId] });
    assert.equal(r.status, 201, r.text);
    epoch = r.json.epoch;
    assert.equal(await stateOf(v1, conv, u3.deviceId), 'member');
    assert.deepEqual(
      (await drain(t, u3)).map((x) => [x.kind, x.body]),
      [['welcome', w]],
    );
    for (const d of [u1, u2, u3]) await ackAll(t, d);
  });

  it('freezes the conversation while a revoked member waits for removal, until a commit removes it', async () => {
    // Something is waiting in u2's queue when it is revoked.
    assert.equal((await send(v1, conv, epoch)).status, 201);
    await people.revoke(u2.deviceId);
    await waitFor(
      async () => (await stateOf(u1, conv, u2.deviceId)) === 'pending_remove',
      3000,
      'u2 pending_remove',
    );

    const p = await t.inject('GET', `/api/v1/conversations/${conv}/pending`, { token: v1.token });
    assert.deepEqual(p.json.removes, [{ deviceId: u2.deviceId, userEmail: 'uma@example.com' }]);
    assertError(await send(v1, conv, epoch), 409, 'membership_pending');
    assertError(await send(u1, conv, epoch), 409, 'membership_pending');
    assertError(await commit(v1, conv, { epoch }), 409, 'membership_pending');
    const removal = await commit(u3, conv, { epoch, removedDeviceIds: [u2.deviceId] });
    assert.equal(removal.status, 201, removal.text);
    epoch = removal.json.epoch;

    const m = await members(v1, conv);
    assert.ok(
      !m.devices.some((d) => d.deviceId === u2.deviceId),
      'members no longer lists the revoked device',
    );
    assert.deepEqual(
      new Set(m.devices.map((d) => d.deviceId)),
      new Set([u1.deviceId, u3.deviceId, v1.deviceId]),
    );
    const after = await send(v1, conv, epoch);
    assert.equal(after.status, 201, after.text);
    // The removal commit and later messages never reach the revoked device.
    const rows = await t.enclave.handle.db
      .selectFrom('deliveries')
      .select('seq')
      .where('device_id', '=', u2.deviceId)
      .execute();
    assert.deepEqual(rows, []);
  });

  it("answers the revoked device's own queue requests with 401 device_revoked", async () => {
    assertError(await t.inject('GET', '/api/v1/queue', { token: u2.token }), 401, 'device_revoked');
    assertError(
      await t.inject('POST', '/api/v1/queue/ack', { token: u2.token, body: { seqs: [1] } }),
      401,
      'device_revoked',
    );
    assertError(await send(u2, conv, epoch), 401, 'device_revoked');
  });

  it('drops a revoked device that was still only pending_add', async () => {
    const u4 = await people.device('uma@example.com');
    await waitFor(
      async () => (await stateOf(u1, conv, u4.deviceId)) === 'pending_add',
      3000,
      'u4 pending_add',
    );
    await people.revoke(u4.deviceId);
    await waitFor(async () => (await stateOf(u1, conv, u4.deviceId)) === undefined, 3000, 'u4 dropped');
    assert.equal((await send(v1, conv, epoch)).status, 201, 'nothing to remove: messages still flow');
  });
});
