import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Dashboard, DashboardSchema } from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { blob, establish, People, type TestDevice } from '../../test-support/messaging-fixtures.js';

const posture = (over: Record<string, unknown> = {}) => ({
  platform: 'linux',
  osVersion: '6.1',
  clientVersion: '1.0.0',
  passcodeSet: true,
  storageEncrypted: true,
  rooted: false,
  ...over,
});

describe('GET /api/v1/dashboard', () => {
  let t: TestEnclave;
  let admin: string;
  let junior: string;
  let a1: TestDevice;
  let a2: TestDevice;
  let b1: TestDevice;
  let a3: TestDevice;

  const dashboard = async (token = admin): Promise<Dashboard> =>
    assertBody(await t.inject('GET', '/api/v1/dashboard', { token }), 200, DashboardSchema);

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin');
    junior = await t.adminToken('junior-helpdesk');
    const people = new People(t);
    for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.com'])
      await people.user(email);
    a1 = await people.device('alice@example.com');
    a2 = await people.device('alice@example.com');
    a3 = await people.device('alice@example.com');
    b1 = await people.device('bob@example.com');
    // One application message from bob to alice's devices (commits and welcomes are not counted).
    const conv = await establish(t, b1, ['alice@example.com']);
    const m = await t.inject('POST', `/api/v1/conversations/${conv.id}/messages`, {
      token: b1.token,
      body: { epoch: conv.epoch, messageId: crypto.randomUUID(), ciphertext: blob() },
    });
    assert.equal(m.status, 201, m.text);
    await people.revoke(a3.deviceId);
    // a1 is rooted (quarantined at once: non-compliant), a2 has no passcode (inside its grace
    // period: warning), b1 is compliant.
    for (const [d, over] of [
      [a1, { rooted: true, osVersion: '6.1' }],
      [a2, { passcodeSet: false, osVersion: '6.8' }],
      [b1, { osVersion: '6.1' }],
    ] as const) {
      const r = await t.inject('POST', '/api/v1/device/posture', { token: d.token, body: posture(over) });
      assert.equal(r.status, 200, r.text);
    }
    // A pending lock for b1, a full wipe of a2 waiting for a second administrator.
    const lock = await t.inject('POST', `/api/v1/devices/${b1.deviceId}/commands`, {
      token: admin,
      body: { type: 'lock' },
    });
    assert.equal(lock.status, 201, lock.text);
    const wipe = await t.inject('POST', `/api/v1/devices/${a2.deviceId}/commands`, {
      token: admin,
      body: { type: 'wipe', reason: 'lost' },
    });
    assert.equal(wipe.status, 201, wipe.text);
    // Carol has two live activation passwords, one of them expiring within the day.
    for (const expiresInSeconds of [3600, 3 * 24 * 3600]) {
      const p = await t.inject('POST', '/api/v1/activations', {
        token: admin,
        body: { email: 'carol@example.com', expiresInSeconds },
      });
      assert.equal(p.status, 201, p.text);
    }
  });
  after(() => t.close());

  it('counts users and devices by status from the live data', async () => {
    const d = await dashboard();
    assert.deepEqual(d.users, { total: 3, withoutDevice: 1 });
    assert.deepEqual(d.devices, {
      total: 4,
      active: 3,
      pendingActivation: 2,
      nonCompliant: 1,
      revoked: 1,
      connectedNow: 0,
    });
  });

  it('breaks active devices down by platform, OS version and compliance with the top reasons', async () => {
    const d = await dashboard();
    assert.deepEqual(d.platforms, [{ platform: 'linux', count: 3 }]);
    assert.deepEqual(d.osVersions, [
      { platform: 'linux', osVersion: '6.1', count: 2 },
      { platform: 'linux', osVersion: '6.8', count: 1 },
    ]);
    assert.deepEqual(
      { ...d.compliance, topReasons: undefined },
      { compliant: 1, warning: 1, nonCompliant: 1, unknown: 0, topReasons: undefined },
    );
    assert.deepEqual(d.compliance.topReasons, [
      { rule: 'device_rooted', count: 1 },
      { rule: 'passcode_not_set', count: 1 },
    ]);
  });

  it('has 30 days of activations ending today, with the four activations today', async () => {
    const d = await dashboard();
    assert.equal(d.activationsPerDay.length, 30);
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(d.activationsPerDay.at(-1), { date: today, count: 4 });
    assert.equal(
      d.activationsPerDay.reduce((a, x) => a + x.count, 0),
      4,
    );
    const dates = d.activationsPerDay.map((x) => x.date);
    assert.deepEqual(dates, [...dates].sort(), 'oldest first');
    assert.equal(new Set(dates).size, 30);
  });

  it('counts pending commands, approvals, messages and what is about to expire', async () => {
    const d = await dashboard();
    assert.deepEqual(d.commands, { pending: 1, failed24h: 0, awaitingApproval: 1 });
    assert.equal(d.messages24h, 1);
    assert.deepEqual(d.expiring, { certificates30d: 0, activationPasswords24h: 1 });
  });

  it('shows the device figure the stream hub reports', async () => {
    const before = t.services.dashboard.connectedNow;
    t.services.dashboard.connectedNow = () => 7;
    try {
      assert.equal((await dashboard()).devices.connectedNow, 7);
    } finally {
      t.services.dashboard.connectedNow = before;
    }
  });

  it('follows the data: a revoked device leaves the active figures', async () => {
    await new People(t).revoke(b1.deviceId);
    const d = await dashboard();
    assert.equal(d.devices.active, 2);
    assert.equal(d.devices.revoked, 2);
    assert.equal(d.users.withoutDevice, 2);
    assert.deepEqual(d.osVersions, [
      { platform: 'linux', osVersion: '6.1', count: 1 },
      { platform: 'linux', osVersion: '6.8', count: 1 },
    ]);
  });

  it('lists the latest audit entries, newest first, for an administrator with audit:read', async () => {
    const d = await dashboard();
    assert.equal(d.recentAudit.length, 10);
    const seqs = d.recentAudit.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => y - x),
    );
    const latest = await t.inject('GET', '/api/v1/audit?limit=10', { token: admin });
    assert.deepEqual(
      seqs,
      (latest.json.items as { seq: number }[]).map((e) => e.seq),
    );
  });

  it('leaves the audit entries out for a role without audit:read', async () => {
    const d = await dashboard(junior);
    assert.deepEqual(d.recentAudit, []);
    assert.equal(d.devices.total, 4);
  });

  it('refuses a caller without an administrator session', async () => {
    assertError(await t.inject('GET', '/api/v1/dashboard'), 401, 'unauthenticated');
    assertError(await t.inject('GET', '/api/v1/dashboard', { token: b1.token }), 401, 'unauthenticated');
  });
});
