import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiError, authenticateDevice, Messenger } from '@enclave/client';
import { activateDeviceDir } from '../test-support/device-dir.js';
import { type TestEnclave, testEnclave } from '../test-support/harness.js';

// Signed remote commands between a real device directory (SDK) and the in-process server.
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-cmds-'));

describe('remote commands', () => {
  let t: TestEnclave;
  let admin: string;
  let junior: string;

  const newDevice = (name: string, email: string) => activateDeviceDir(t, admin, email, root, name);

  const open = (dir: string) => Messenger.open({ dir, transport: t.transport, passphrase: null });
  async function syncCommands(dir: string) {
    const m = await open(dir);
    const r = await m.runCommands(await m.pendingCommands());
    await m.close();
    return r;
  }
  const history = async (id: string) =>
    (await t.inject('GET', `/api/v1/devices/${id}`, { token: admin })).json.commands as {
      commandId: string;
      type: string;
      state: string;
      reason: string | null;
      deliveredAt: string | null;
      acknowledgedAt: string | null;
      completedAt: string | null;
      message: string | null;
    }[];

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin');
    junior = await t.adminToken('junior-helpdesk');
    await t.inject('POST', '/api/v1/users', {
      token: admin,
      body: { email: 'eve@example.com', name: 'Eve' },
    });
  });
  after(async () => {
    await t.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('a lock goes queued → delivered → acknowledged → done, with timestamps, and the device is locked', async () => {
    const d = await newDevice('eve1', 'eve@example.com');
    const sent = await t.inject('POST', `/api/v1/devices/${d.id}/commands`, {
      token: junior,
      body: { type: 'lock', message: 'Lost? Call +1 555 0100' },
    });
    assert.equal(sent.status, 201, sent.text);
    assert.equal(sent.json.state, 'queued');
    assert.deepEqual(await syncCommands(d.dir), [
      { commandId: sent.json.commandId, type: 'lock', state: 'done' },
    ]);
    const [h] = await history(d.id);
    assert.equal(h?.state, 'done');
    assert.ok(h?.deliveredAt && h.acknowledgedAt && h.completedAt);
    assert.equal(h?.message, 'Lost? Call +1 555 0100');
    assert.equal(
      JSON.parse(fs.readFileSync(path.join(d.dir, 'lock.json'), 'utf8')).message,
      'Lost? Call +1 555 0100',
    );
    assert.deepEqual(await syncCommands(d.dir), [], 'a done command is not handed out again');
    await t.inject('POST', `/api/v1/devices/${d.id}/commands`, { token: junior, body: { type: 'unlock' } });
    await syncCommands(d.dir);
    assert.ok(!fs.existsSync(path.join(d.dir, 'lock.json')));
  });

  it('a Junior Helpdesk cannot wipe or revoke (403) and nothing is queued', async () => {
    const d = await newDevice('eve2', 'eve@example.com');
    for (const type of ['wipe', 'wipe-work', 'revoke']) {
      const r = await t.inject('POST', `/api/v1/devices/${d.id}/commands`, { token: junior, body: { type } });
      assert.equal(r.status, 403, type);
      assert.equal(r.json.error.code, 'forbidden');
    }
    assert.deepEqual(await history(d.id), []);
  });

  it('a command tampered with on the way is refused by the device and reported failed with the reason', async () => {
    const d = await newDevice('eve3', 'eve@example.com');
    const sent = await t.inject('POST', `/api/v1/devices/${d.id}/commands`, {
      token: admin,
      body: { type: 'lock' },
    });
    const m = await open(d.dir);
    const [cmd] = await m.pendingCommands();
    assert.ok(cmd);
    const forged = { ...cmd, envelope: cmd.envelope.replace('"lock"', '"wipe"'), type: 'wipe' as const };
    assert.deepEqual(await m.runCommands([forged]), [
      { commandId: sent.json.commandId, type: 'wipe', state: 'failed' },
    ]);
    await m.close();
    const [h] = await history(d.id);
    assert.equal(h?.state, 'failed');
    assert.equal(h?.reason, 'signature_invalid');
    assert.ok(fs.existsSync(path.join(d.dir, 'device.key')), 'nothing was wiped');
  });

  it('wipe-work leaves the device with no keys or messages, and it can no longer authenticate', async () => {
    const d = await newDevice('eve4', 'eve@example.com');
    const m0 = await open(d.dir);
    await m0.ensureKeyPackages();
    await m0.close();
    assert.ok(fs.existsSync(path.join(d.dir, 'mls.state')));
    const key = fs.readFileSync(path.join(d.dir, 'device.key'));
    await t.inject('POST', `/api/v1/devices/${d.id}/commands`, { token: admin, body: { type: 'wipe-work' } });
    const [r] = await syncCommands(d.dir);
    assert.equal(r?.state, 'done');
    for (const f of ['device.key', 'mls.state', 'messenger.state'])
      assert.ok(!fs.existsSync(path.join(d.dir, f)), f);
    await new Promise((res) => setTimeout(res, 100)); // the deactivation runs on the bus
    const detail = await t.inject('GET', `/api/v1/devices/${d.id}`, { token: admin });
    assert.equal(detail.json.status, 'revoked');
    await assert.rejects(
      authenticateDevice({
        transport: t.transport,
        deviceId: d.id,
        privateKey: new Uint8Array(
          Buffer.from(
            key
              .toString('utf8')
              .split('\n')
              .filter((l) => !l.startsWith('---'))
              .join(''),
            'base64',
          ),
        ),
      }),
      (e: unknown) => e instanceof ApiError && e.code === 'device_revoked',
    );
  });

  it('audits every command sent and every report', async () => {
    const r = await t.inject('GET', '/api/v1/audit?limit=500', { token: admin });
    const actions = new Set((r.json.items as { action: string }[]).map((e) => e.action));
    for (const a of [
      'device.command_sent',
      'command.acknowledged',
      'command.done',
      'command.failed',
      'device.revoked',
    ])
      assert.ok(actions.has(a), a);
  });
});
