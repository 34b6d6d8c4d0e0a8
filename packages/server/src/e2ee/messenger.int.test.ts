import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, Messenger } from '@enclave/client';
import { activateDeviceDir } from '../test-support/device-dir.js';
import { type TestEnclave, testEnclave } from '../test-support/harness.js';

// Real MLS between real devices (each with its own device directory) through the in-process server.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2ee-'));

describe('end-to-end encrypted messaging between devices', () => {
  let t: TestEnclave;
  let admin: string;
  const dirs: Record<string, string> = {};

  async function newDevice(name: string, email: string): Promise<string> {
    const d = await activateDeviceDir(t, admin, email, root, name);
    const m = await open(d.dir);
    await m.ensureKeyPackages();
    await m.close();
    dirs[name] = d.dir;
    return d.id;
  }

  const open = (dir: string) => Messenger.open({ dir, transport: t.transport, passphrase: null });
  async function receive(name: string) {
    const m = await open(dirs[name] ?? '');
    await m.sync();
    const msgs = await m.drainInbox();
    await m.close();
    return msgs;
  }
  async function send(name: string, opts: { to?: string[]; conversationId?: string; text: string }) {
    const m = await open(dirs[name] ?? '');
    try {
      return await m.send(opts);
    } finally {
      await m.close();
    }
  }

  before(async () => {
    t = await testEnclave({ attachmentLimitBytes: 256 * 1024 });
    admin = await t.adminToken('security-admin');
    for (const [email, name] of [
      ['ann@example.com', 'Ann'],
      ['ben@example.com', 'Ben'],
      ['cat@example.com', 'Cat'],
      ['dan@example.com', 'Dan'],
    ]) {
      await t.inject('POST', '/api/v1/users', { token: admin, body: { email, name } });
    }
    await newDevice('ann1', 'ann@example.com');
    await newDevice('ann2', 'ann@example.com');
    await newDevice('ben1', 'ben@example.com');
    await newDevice('cat1', 'cat@example.com');
  });
  after(async () => {
    await t.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  let direct = '';
  it("delivers A's text once to B's device and to A's other device, with the right sender", async () => {
    const sent = await send('ann1', { to: ['ben@example.com'], text: 'hello Ben' });
    direct = sent.conversationId;
    const ben = await receive('ben1');
    assert.deepEqual(
      ben.map((m) => [m.from, m.text, m.messageId]),
      [['ann@example.com', 'hello Ben', sent.messageId]],
    );
    const ann2 = await receive('ann2');
    assert.deepEqual(
      ann2.map((m) => [m.from, m.text]),
      [['ann@example.com', 'hello Ben']],
    );
    assert.deepEqual(await receive('ben1'), [], 'nothing twice');
    const reply = await send('ben1', { conversationId: direct, text: 'hi Ann' });
    assert.equal(reply.conversationId, direct);
    assert.deepEqual(
      (await receive('ann1')).map((m) => [m.from, m.text]),
      [['ben@example.com', 'hi Ann']],
    );
    assert.deepEqual(
      (await receive('ann2')).map((m) => [m.from, m.text]),
      [['ben@example.com', 'hi Ann']],
    );
  });

  it('works the same for a three-user group', async () => {
    const sent = await send('cat1', { to: ['ann@example.com', 'ben@example.com'], text: 'team sync at 3' });
    for (const d of ['ann1', 'ann2', 'ben1']) {
      assert.deepEqual(
        (await receive(d)).map((m) => [m.conversationId, m.from, m.text]),
        [[sent.conversationId, 'cat@example.com', 'team sync at 3']],
        d,
      );
    }
  });

  it('refuses to send to someone without an active device', async () => {
    await assert.rejects(
      send('ann1', { to: ['dan@example.com'], text: 'x' }),
      (e: unknown) => e instanceof ApiError && e.code === 'recipient_has_no_devices',
    );
  });

  it("adds a newly activated device to its user's conversations without anyone acting", async () => {
    await newDevice('ben2', 'ben@example.com');
    // Any member device that syncs commits the pending add.
    await receive('ann1');
    const m = await send('ann1', { conversationId: direct, text: 'welcome, second phone' });
    assert.ok(m.messageId);
    const got = await receive('ben2');
    assert.deepEqual(
      got.map((x) => x.text),
      ['welcome, second phone'],
    );
  });

  it('removes a revoked device: members no longer list it and the conversation goes on', async () => {
    const ann2Id = JSON.parse(fs.readFileSync(path.join(dirs.ann2 ?? '', 'device.json'), 'utf8'))
      .deviceId as string;
    await t.inject('POST', `/api/v1/devices/${ann2Id}/commands`, { token: admin, body: { type: 'revoke' } });
    await new Promise((r) => setTimeout(r, 100)); // the bus handler marks it pending_remove
    await send('ben1', { conversationId: direct, text: 'after revocation' });
    const ann1 = await open(dirs.ann1 ?? '');
    const members = await ann1.members(direct);
    await ann1.close();
    assert.ok(!members.devices.some((d) => d.deviceId === ann2Id));
    assert.deepEqual(
      (await receive('ann1')).map((x) => x.text),
      ['after revocation'],
    );
    await assert.rejects(
      receive('ann2'),
      (e: unknown) => e instanceof ApiError && e.code === 'device_revoked',
    );
  });

  it('carries an attachment encrypted on the device; only members can fetch it; tampering is detected', async () => {
    const marker = `FILE-MARKER-${crypto.randomUUID()}`;
    const src = path.join(root, 'report.txt');
    fs.writeFileSync(src, `${marker}\n`.repeat(1000));
    const m = await open(dirs.ann1 ?? '');
    const sent = await m.send({ conversationId: direct, text: 'see attached', files: [src] });
    await m.close();
    const stored = fs.readdirSync(path.join(t.dataDir, 'attachments'));
    assert.equal(stored.length, 1);
    const blob = fs.readFileSync(path.join(t.dataDir, 'attachments', stored[0] ?? ''));
    assert.ok(!blob.includes(marker), 'the server holds ciphertext only');
    const ben = await open(dirs.ben1 ?? '');
    await ben.sync();
    const msg = (await ben.drainInbox()).find((x) => x.messageId === sent.messageId);
    assert.equal(msg?.messageId, sent.messageId);
    const ref = msg?.attachments?.[0];
    assert.ok(ref);
    assert.equal(ref.name, 'report.txt');
    const out = path.join(root, 'got.txt');
    await ben.saveAttachment(ref, out);
    assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(src, 'utf8'));
    // A flipped byte on the server's disk: the device refuses the file and keeps nothing.
    blob[10] = (blob[10] ?? 0) ^ 1;
    fs.writeFileSync(path.join(t.dataDir, 'attachments', stored[0] ?? ''), blob);
    const bad = path.join(root, 'bad.txt');
    await assert.rejects(ben.saveAttachment(ref, bad));
    assert.ok(!fs.existsSync(bad));
    await ben.close();
    // Cat's device is not in the direct conversation.
    const cat = await open(dirs.cat1 ?? '');
    await assert.rejects(
      cat.saveAttachment(ref, path.join(root, 'cat.txt')),
      (e: unknown) => e instanceof ApiError && e.code === 'not_a_member',
    );
    await cat.close();
    // Over the size limit (256 KiB in this test server): 413, nothing kept on disk.
    const big = path.join(root, 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(300 * 1024, 7));
    const m2 = await open(dirs.ann1 ?? '');
    await assert.rejects(
      m2.send({ conversationId: direct, text: 'too big', files: [big] }),
      (e: unknown) => e instanceof ApiError && e.code === 'body_too_large',
    );
    await m2.close();
    assert.equal(fs.readdirSync(path.join(t.dataDir, 'attachments')).length, 1);
  });

  it('stores only ciphertext on the server', async () => {
    const marker = `MARKER-${crypto.randomUUID()}`;
    await send('ann1', { conversationId: direct, text: marker });
    const rows = await t.enclave.handle.db.selectFrom('messages').selectAll().execute();
    assert.ok(rows.length > 0);
    assert.ok(!JSON.stringify(rows).includes(marker));
    assert.ok(!rows.some((r) => Buffer.from(r.body, 'base64url').includes(marker)));
    assert.deepEqual((await receive('ben1')).map((x) => x.text).slice(-1), [marker]);
  });
});
