import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activateDevice, ApiError, authenticateDevice } from '@enclave/client';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { ComplianceJob } from './compliance.job.js';
import { compareVersions } from './compliance.rules.js';
import { JobLeaseRepository } from './job-lease.repository.js';

const MINUTE = 60_000;
const posture = (osVersion: string) => ({
  platform: 'test',
  osVersion,
  clientVersion: '1.0.0',
  passcodeSet: true,
  storageEncrypted: true,
  rooted: false,
});

/** The SDK wants the PKCS#8 DER; accept PEM too. */
function der(key: Buffer): Uint8Array {
  const text = key.toString('utf8');
  if (!text.startsWith('-----')) return new Uint8Array(key);
  return new Uint8Array(
    Buffer.from(
      text
        .split('\n')
        .filter((l) => !l.startsWith('---'))
        .join(''),
      'base64',
    ),
  );
}

describe('device compliance', () => {
  let t: TestEnclave;
  let admin: string;
  let policyId: string;

  async function newDevice(email: string) {
    const user = await t.inject('POST', '/api/v1/users', { token: admin, body: { email, name: email } });
    assert.equal(user.status, 201, user.text);
    const a = await t.inject('POST', `/api/v1/policies/${policyId}/assignments`, {
      token: admin,
      body: { userId: user.json.id },
    });
    assert.equal(a.status, 200, a.text);
    const p = await t.inject('POST', '/api/v1/activations', { token: admin, body: { email } });
    const d = await activateDevice({
      transport: t.transport,
      email,
      activationPassword: p.json.password,
      platform: 'test',
      clientVersion: '1.0.0',
    });
    const key = der(d.privateKeyPkcs8);
    const login = () => authenticateDevice({ transport: t.transport, deviceId: d.deviceId, privateKey: key });
    return { id: d.deviceId, token: (await login()).token, login };
  }
  const report = (token: string, osVersion: string) =>
    t.inject('POST', '/api/v1/device/posture', { token, body: posture(osVersion) });
  const sendMessage = (token: string) =>
    t.inject('POST', `/api/v1/conversations/${crypto.randomUUID()}/messages`, {
      token,
      body: { epoch: 1, messageId: crypto.randomUUID(), ciphertext: 'AAAA' },
    });
  const auditOf = async (deviceId: string) => {
    const r = await t.inject('GET', '/api/v1/audit?limit=500', { token: admin });
    return (r.json.items as { action: string; target: string | null; details: Record<string, unknown> }[])
      .filter((e) => e.target === deviceId)
      .map((e) => e.action);
  };
  const setActions = (complianceActions: Record<string, unknown>) =>
    t.inject('PATCH', `/api/v1/policies/${policyId}`, {
      token: admin,
      body: { document: { complianceActions } },
    });

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin');
    const p = await t.inject('POST', '/api/v1/policies', {
      token: admin,
      body: { name: 'Strict OS', document: { minOsVersion: { test: '17.2' } } },
    });
    assert.equal(p.status, 201, p.text);
    policyId = p.json.id;
  });
  after(() => t.close());

  it('compares versions numerically by dot segments', () => {
    assert.equal(compareVersions('17.10', '17.2'), 1);
    assert.equal(compareVersions('17.2', '17.2.0'), 0);
    assert.equal(compareVersions('9.9.9', '10'), -1);
    assert.equal(compareVersions('17.2-beta.1', '17.2'), 0);
  });

  it('rejects a posture report with unknown fields', async () => {
    const d = await newDevice('strict@example.com');
    const r = await t.inject('POST', '/api/v1/device/posture', {
      token: d.token,
      body: { ...posture('17.2'), battery: 50 },
    });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'validation_failed');
  });

  it('an OS below the minimum is a warning during the grace period, then blocks messaging, and a compliant report lifts it', async () => {
    const d = await newDevice('old-os@example.com');
    const events: Record<string, unknown>[] = [];
    const unsubscribe = t.services.bus.subscribe('webhook.event', (e) => {
      if (e.type === 'device.compliance_changed' && e.data.deviceId === d.id) events.push(e.data);
    });
    const first = await report(d.token, '16.4');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.compliance, 'warning');
    assert.deepEqual(
      first.json.reasons.map((r: { code: string }) => r.code),
      ['os_version_below_minimum'],
    );
    assert.equal(first.json.reasons[0].action, 'block_messaging');
    assert.equal(first.json.reasons[0].enforcedAt, null);
    assert.equal(first.json.messagingBlocked, false);
    assert.equal((await sendMessage(d.token)).json.error.code, 'conversation_not_found');

    // The grace period (60 minutes by default) runs out: the scheduled evaluation applies the action.
    await t.services.compliance.evaluate(d.id, new Date(Date.now() + 61 * MINUTE));
    const me = await t.inject('GET', '/api/v1/device/me', { token: d.token });
    assert.equal(me.json.compliance, 'non-compliant');
    assert.equal(me.json.complianceReasons[0].code, 'os_version_below_minimum');
    const listed = await t.inject('GET', `/api/v1/devices/${d.id}`, { token: admin });
    assert.equal(listed.json.compliance, 'non-compliant');
    assert.equal(listed.json.complianceReasons[0].code, 'os_version_below_minimum');
    const blocked = await sendMessage(d.token);
    assert.equal(blocked.status, 403);
    assert.equal(blocked.json.error.code, 'device_blocked');

    const fixed = await report(d.token, '17.4');
    assert.equal(fixed.json.compliance, 'compliant');
    assert.deepEqual(fixed.json.reasons, []);
    assert.equal(fixed.json.messagingBlocked, false);
    assert.equal((await sendMessage(d.token)).json.error.code, 'conversation_not_found');

    unsubscribe();
    // Every transition is published for webhooks.
    assert.deepEqual(
      events.map((e) => e.to),
      ['warning', 'non-compliant', 'compliant'],
    );
    const actions = await auditOf(d.id);
    for (const a of [
      'device.compliance_changed',
      'device.compliance_action',
      'device.messaging_blocked',
      'device.messaging_unblocked',
    ])
      assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
    assert.equal(actions.filter((a) => a === 'device.compliance_changed').length, 3); // → warning → non-compliant → compliant
  });

  it('quarantine leaves the device only /device/me and /device/posture', async () => {
    const q = await setActions({ os_version_below_minimum: { action: 'quarantine', graceMinutes: 0 } });
    assert.equal(q.status, 200, q.text);
    const d = await newDevice('quarantined@example.com');
    const r = await report(d.token, '10');
    assert.equal(r.json.compliance, 'non-compliant');
    assert.equal(r.json.quarantined, true);
    assert.equal((await t.inject('GET', '/api/v1/device/me', { token: d.token })).status, 200);
    const elsewhere = await t.inject('GET', '/api/v1/conversations', { token: d.token });
    assert.equal(elsewhere.status, 403);
    assert.equal(elsewhere.json.error.code, 'device_quarantined');
    assert.equal((await report(d.token, '18')).json.quarantined, false);
    assert.equal((await t.inject('GET', '/api/v1/conversations', { token: d.token })).status, 200);
    assert.ok((await auditOf(d.id)).includes('device.quarantine_lifted'));
  });

  it('with a grace of 0 minutes a revoke action revokes at once and the device cannot authenticate', async () => {
    await setActions({ os_version_below_minimum: { action: 'revoke', graceMinutes: 0 } });
    const d = await newDevice('revoked@example.com');
    const r = await report(d.token, '16.0');
    assert.equal(r.json.compliance, 'non-compliant');
    assert.equal(r.json.reasons[0].action, 'revoke');
    const detail = await t.inject('GET', `/api/v1/devices/${d.id}`, { token: admin });
    assert.equal(detail.json.status, 'revoked');
    await assert.rejects(d.login(), (e: unknown) => e instanceof ApiError && e.code === 'device_revoked');
    const actions = await auditOf(d.id);
    for (const a of ['device.compliance_changed', 'device.compliance_action', 'device.revoked'])
      assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
  });

  it('a wipe_work action queues a signed wipe-work command', async () => {
    await setActions({ os_version_below_minimum: { action: 'wipe_work', graceMinutes: 0 } });
    const d = await newDevice('wiped@example.com');
    await report(d.token, '1.0');
    const me = await t.inject('GET', '/api/v1/device/me', { token: d.token });
    assert.ok(
      me.json.commands.some((c: { envelope: string }) => JSON.parse(c.envelope).type === 'wipe-work'),
      JSON.stringify(me.json.commands),
    );
  });

  it('a policy change re-evaluates the devices it applies to', async () => {
    await setActions({ os_version_below_minimum: { action: 'notify', graceMinutes: 0 } });
    const d = await newDevice('policy-change@example.com');
    assert.equal((await report(d.token, '17.0')).json.compliance, 'non-compliant');
    await t.inject('PATCH', `/api/v1/policies/${policyId}`, {
      token: admin,
      body: { document: { minOsVersion: { test: '16' } } },
    });
    await new Promise((res) => setTimeout(res, 300)); // the re-evaluation runs on the bus
    const me = await t.inject('GET', '/api/v1/device/me', { token: d.token });
    assert.equal(me.json.compliance, 'compliant');
  });

  it('the scheduled job marks a device out of contact', async () => {
    const d = await newDevice('silent@example.com');
    await report(d.token, '17.4');
    const job = new ComplianceJob(new JobLeaseRepository(t.enclave.handle.db), t.services.compliance, 'solo');
    assert.equal(await job.runOnce(new Date(Date.now() + 400 * 24 * 60 * MINUTE)), true);
    const detail = await t.inject('GET', `/api/v1/devices/${d.id}`, { token: admin });
    assert.equal(detail.json.compliance, 'non-compliant');
    assert.ok(detail.json.complianceReasons.some((r: { code: string }) => r.code === 'out_of_contact'));
  });

  it('the lease lets only one of two job runners run per interval', async () => {
    const leases = new JobLeaseRepository(t.enclave.handle.db);
    const a = new ComplianceJob(leases, t.services.compliance, 'node-a', MINUTE);
    const b = new ComplianceJob(leases, t.services.compliance, 'node-b', MINUTE);
    const base = Date.now() + 1000 * 24 * 60 * MINUTE; // past the lease the previous test took
    const now = new Date(base);
    const both = await Promise.all([a.runOnce(now), b.runOnce(now)]);
    assert.deepEqual(both.filter(Boolean).length, 1);
    const later = new Date(base + 30_000);
    assert.deepEqual([await a.runOnce(later), await b.runOnce(later)], [false, false]);
    const next = new Date(base + MINUTE + 1);
    assert.deepEqual([await b.runOnce(next), await a.runOnce(next)], [true, false]);
  });
});
