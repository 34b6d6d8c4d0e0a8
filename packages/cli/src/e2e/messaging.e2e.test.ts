import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { authenticateDevice, httpsTransport, Messenger, readDeviceDir } from '@enclave/client';
import WebSocket from 'ws';
import { DB, filesUnder, Installation, ok } from './processes.js';

// Acceptance for end-to-end encrypted messaging, with the CLI as separate processes against a
// running server: two users, three devices (and a third user for a group).
const inst = new Installation();
const dir = (name: string) => path.join(inst.work, name);
const MARKER = `PLAINTEXT-MARKER-${crypto.randomUUID()}`;

function receive(name: string): { conversationId: string; messageId: string; from: string; text: string }[] {
  return ok(inst.enclave(['device', 'receive', '--dir', dir(name), '--json'])).json.messages;
}

describe(`messaging as separate processes (${DB})`, () => {
  let direct = '';

  before(async () => {
    await inst.create();
    inst.init('sec@example.com', 'Acme');
    await inst.startServer();
    inst.login(inst.url, 'sec@example.com');
    for (const [email, name] of [
      ['ann@example.com', 'Ann'],
      ['ben@example.com', 'Ben'],
      ['cat@example.com', 'Cat'],
      ['dan@example.com', 'Dan'],
    ] as const) {
      ok(inst.enclave(['users', 'add', '--email', email, '--name', name, '--json']));
    }
    for (const [name, email] of [
      ['ann1', 'ann@example.com'],
      ['ann2', 'ann@example.com'],
      ['ben1', 'ben@example.com'],
      ['cat1', 'cat@example.com'],
    ] as const) {
      const pw = ok(inst.enclave(['activation', 'create', '--email', email, '--json'])).json
        .password as string;
      inst.activate(inst.url, email, pw, dir(name));
    }
  });
  after(() => inst.destroy());

  it("A sends B a text; B's device and A's other device each receive it once, from A", async () => {
    // Watch B's WebSocket stream while A sends: the frames carry ciphertext only.
    const ben = await readDeviceDir(dir('ben1'), { passphrase: null });
    const { token } = await authenticateDevice({
      transport: httpsTransport({ baseUrl: inst.url, ca: ben.caPem }),
      deviceId: ben.record.deviceId,
      privateKey: ben.privateKey,
    });
    const frames: string[] = [];
    const ws = new WebSocket(`${inst.url.replace('https', 'wss')}/api/v1/stream`, {
      headers: { authorization: `Bearer ${token}` },
      ca: ben.caPem,
    });
    ws.on('message', (d) => frames.push(Buffer.isBuffer(d) ? d.toString('utf8') : ''));
    await new Promise((r) => ws.once('open', r));
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ann1'),
        '--to',
        'ben@example.com',
        '--text',
        `hello ${MARKER}`,
        '--json',
      ]),
    ).json;
    for (let i = 0; i < 100 && !frames.some((f) => f.includes(sent.messageId)); i++)
      await new Promise((r) => setTimeout(r, 50));
    ws.close();
    const delivered = frames
      .map((f) => JSON.parse(f))
      .find((f) => f.type === 'deliver' && f.item.messageId === sent.messageId);
    assert.ok(delivered, 'the message was pushed on the stream');
    assert.ok(!frames.some((f) => f.includes(MARKER)), 'no plaintext in any frame');
    assert.ok(!Buffer.from(delivered.item.body, 'base64url').includes(MARKER), 'the body is ciphertext');
    direct = sent.conversationId;
    assert.match(sent.messageId, /^[0-9a-f-]{36}$/);
    for (const d of ['ben1', 'ann2']) {
      const got = receive(d);
      assert.deepEqual(
        got.map((m) => [m.conversationId, m.messageId, m.from, m.text]),
        [[direct, sent.messageId, 'ann@example.com', `hello ${MARKER}`]],
        d,
      );
      assert.deepEqual(receive(d), [], `${d}: nothing twice`);
    }
  });

  it('a three-user group conversation works the same', () => {
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('cat1'),
        '--to',
        'ann@example.com,ben@example.com',
        '--text',
        'standup moved',
        '--json',
      ]),
    ).json;
    for (const d of ['ann1', 'ann2', 'ben1']) {
      assert.deepEqual(
        receive(d).map((m) => [m.conversationId, m.from, m.text]),
        [[sent.conversationId, 'cat@example.com', 'standup moved']],
        d,
      );
    }
    const conv = ok(inst.enclave(['device', 'conversations', '--dir', dir('ben1'), '--json'])).json.items as {
      id: string;
      memberEmails: string[];
    }[];
    assert.deepEqual(conv.find((c) => c.id === sent.conversationId)?.memberEmails, [
      'ann@example.com',
      'ben@example.com',
      'cat@example.com',
    ]);
  });

  it('sending to a user without an active device is a clear error', () => {
    const r = inst.enclave([
      'device',
      'send',
      '--dir',
      dir('ann1'),
      '--to',
      'dan@example.com',
      '--text',
      'x',
      '--json',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /recipient_has_no_devices/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  });

  it('receive --wait gets a message pushed on the stream while it waits', async () => {
    const waiting = inst.enclaveAsync(['device', 'receive', '--dir', dir('ben1'), '--wait', '30', '--json']);
    await new Promise((r) => setTimeout(r, 2500)); // the receiver is connected and waiting
    const t0 = Date.now();
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ann1'),
        '--conversation',
        direct,
        '--text',
        'are you there?',
        '--json',
      ]),
    ).json;
    const r = ok(await waiting);
    assert.deepEqual(
      r.json.messages.map((m: { messageId: string; text: string }) => [m.messageId, m.text]),
      [[sent.messageId, 'are you there?']],
    );
    assert.ok(Date.now() - t0 < 20_000, 'it did not wait for the timeout');
    receive('ann2');
  });

  it("B's device offline while A sends 100 messages gets all 100 in order, once each", async () => {
    const local = await readDeviceDir(dir('ann1'), { passphrase: null });
    const m = await Messenger.open({
      dir: dir('ann1'),
      transport: httpsTransport({ baseUrl: inst.url, ca: local.caPem }),
      passphrase: null,
    });
    for (let i = 0; i < 100; i++) await m.send({ conversationId: direct, text: `bulk ${i}` });
    await m.close();
    const got = receive('ben1');
    assert.deepEqual(
      got.map((x) => x.text),
      Array.from({ length: 100 }, (_, i) => `bulk ${i}`),
    );
    assert.equal(new Set(got.map((x) => x.messageId)).size, 100);
    assert.equal(receive('ann2').length, 100);
  });

  it('a message the server accepted survives a SIGKILL of the server', async () => {
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ben1'),
        '--conversation',
        direct,
        '--text',
        'before the crash',
        '--json',
      ]),
    ).json;
    await inst.stopServer('SIGKILL');
    await inst.startServer();
    for (const d of ['ann1', 'ann2'])
      assert.deepEqual(
        receive(d).map((x) => [x.messageId, x.text]),
        [[sent.messageId, 'before the crash']],
        d,
      );
  });

  it("revoking A's second device removes it from the conversation: members no longer lists it, and it reads nothing more", () => {
    const ann2 = JSON.parse(fs.readFileSync(path.join(dir('ann2'), 'device.json'), 'utf8'))
      .deviceId as string;
    const before = ok(
      inst.enclave(['device', 'members', '--dir', dir('ann1'), '--conversation', direct, '--json']),
    ).json.devices as { deviceId: string; certificateFingerprint: string }[];
    assert.ok(before.some((d) => d.deviceId === ann2));
    assert.ok(before.every((d) => /^[0-9a-f]{64}$/.test(d.certificateFingerprint)));
    ok(inst.enclave(['devices', 'command', ann2, 'revoke', '--json']));
    // The next sender commits the removal by itself before its message goes out.
    ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ben1'),
        '--conversation',
        direct,
        '--text',
        'after revocation',
        '--json',
      ]),
    );
    const members = ok(
      inst.enclave(['device', 'members', '--dir', dir('ann1'), '--conversation', direct, '--json']),
    ).json.devices as { deviceId: string }[];
    assert.ok(!members.some((d) => d.deviceId === ann2));
    assert.deepEqual(
      receive('ann1').map((x) => x.text),
      ['after revocation'],
    );
    const r = inst.enclave(['device', 'receive', '--dir', dir('ann2'), '--json']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /device_revoked/);
  });

  it('an attachment is encrypted on the device and arrives intact', () => {
    const src = path.join(inst.work, 'minutes.txt');
    fs.writeFileSync(src, `minutes ${MARKER}\n`.repeat(200));
    const sent = ok(
      inst.enclave([
        'device',
        'send',
        '--dir',
        dir('ann1'),
        '--conversation',
        direct,
        '--text',
        'minutes attached',
        '--file',
        src,
        '--json',
      ]),
    ).json;
    const got = receive('ben1').find((m) => m.messageId === sent.messageId) as unknown as {
      attachments: { name: string; path: string }[];
    };
    assert.equal(got.attachments[0]?.name, 'minutes.txt');
    assert.equal(fs.readFileSync(got.attachments[0]?.path ?? '', 'utf8'), fs.readFileSync(src, 'utf8'));
    assert.ok(fs.readdirSync(path.join(inst.dataDir, 'attachments')).length >= 1);
    fs.rmSync(path.dirname(got.attachments[0]?.path ?? ''), { recursive: true }); // the marker check below covers the device dir
  });

  it('a lock sent from the CLI reaches a connected device in under 2 s and ends done', async () => {
    const ann1 = JSON.parse(fs.readFileSync(path.join(dir('ann1'), 'device.json'), 'utf8'))
      .deviceId as string;
    const listening = inst.enclaveAsync([
      'device',
      'listen',
      '--dir',
      dir('ann1'),
      '--seconds',
      '8',
      '--json',
    ]);
    await new Promise((r) => setTimeout(r, 3000)); // connected
    const t0 = Date.now();
    const cmd = ok(inst.enclave(['devices', 'command', ann1, 'lock', '--json'])).json;
    let state = '';
    while (Date.now() - t0 < 10_000) {
      const show = ok(inst.enclave(['devices', 'show', ann1, '--json'])).json;
      state = show.commands.find((c: { commandId: string }) => c.commandId === cmd.commandId)?.state;
      if (state === 'done') break;
    }
    assert.equal(state, 'done');
    const show = ok(inst.enclave(['devices', 'show', ann1, '--json'])).json;
    const c = show.commands.find((x: { commandId: string }) => x.commandId === cmd.commandId);
    const latency = Date.parse(c.completedAt) - Date.parse(c.createdAt);
    assert.ok(latency < 2000, `command to done took ${latency} ms`);
    // A policy change reaches the connected device over the stream too.
    ok(inst.enclave(['policies', 'update', 'Default', '--set', 'minPasscodeLength=8', '--json']));
    for (let i = 0; i < 40 && !fs.existsSync(path.join(dir('ann1'), 'policy.json')); i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(dir('ann1'), 'policy.json'), 'utf8')).document.minPasscodeLength,
      8,
    );
    const r = ok(await listening);
    assert.deepEqual(
      r.json.commands.map((x: { type: string; state: string }) => [x.type, x.state]),
      [['lock', 'done']],
    );
    assert.ok(r.json.policyUpdates >= 1);
    assert.ok(fs.existsSync(path.join(dir('ann1'), 'lock.json')));
  });

  it('the marker appears nowhere in the database, the data directory or the server log', async () => {
    assert.ok(!(await inst.databaseText()).includes(MARKER), 'database');
    for (const f of filesUnder(inst.dataDir)) assert.ok(!fs.readFileSync(f).includes(MARKER), f);
    assert.ok(!fs.readFileSync(inst.serverLog, 'utf8').includes(MARKER), 'server log');
    // …and the devices' own stores hold it only sealed.
    for (const f of filesUnder(dir('ben1'))) assert.ok(!fs.readFileSync(f).includes(MARKER), f);
  });
});
