import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activateDevice } from '@enclave/client';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

describe('self-service portal API', () => {
  let t: TestEnclave;
  let helpdesk: string;
  let fayId = '';
  let gusDevice = '';
  let fayDevice = '';
  let fayToken = '';

  async function device(email: string): Promise<string> {
    const p = await t.inject('POST', '/api/v1/activations', { token: helpdesk, body: { email } });
    return (
      await activateDevice({
        transport: t.transport,
        email,
        activationPassword: p.json.password,
        platform: 'ios',
        clientVersion: '1.0.0',
      })
    ).deviceId;
  }

  before(async () => {
    t = await testEnclave();
    const admin = await t.adminToken('security-admin');
    helpdesk = await t.adminToken('senior-helpdesk');
    fayId = (
      await t.inject('POST', '/api/v1/users', {
        token: admin,
        body: { email: 'fay@example.com', name: 'Fay' },
      })
    ).json.id;
    await t.inject('POST', '/api/v1/users', {
      token: admin,
      body: { email: 'gus@example.com', name: 'Gus' },
    });
    fayDevice = await device('fay@example.com');
    gusDevice = await device('gus@example.com');
  });
  after(() => t.close());

  it('sets the first password from an invitation code; a wrong or reused code is refused', async () => {
    const inv = await t.inject('POST', `/api/v1/users/${fayId}/invitations`, { token: helpdesk });
    assert.equal(inv.status, 201, inv.text);
    const code = inv.json.code as string;
    const wrong = await t.inject('POST', '/api/v1/self/accept-invitation', {
      body: { email: 'fay@example.com', code: 'x'.repeat(24), password: 'fay has a long passphrase' },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'invitation_invalid');
    const ok = await t.inject('POST', '/api/v1/self/accept-invitation', {
      body: { email: 'fay@example.com', code, password: 'fay has a long passphrase' },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.json.token, /^ess_/);
    const again = await t.inject('POST', '/api/v1/self/accept-invitation', {
      body: { email: 'fay@example.com', code, password: 'another long passphrase' },
    });
    assert.equal(again.json.error.code, 'invitation_invalid');
  });

  it('signs in with the password and refuses a wrong one', async () => {
    const bad = await t.inject('POST', '/api/v1/self/login', {
      body: { email: 'fay@example.com', password: 'not it at all' },
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.json.error.code, 'invalid_credentials');
    const ok = await t.inject('POST', '/api/v1/self/login', {
      body: { email: 'fay@example.com', password: 'fay has a long passphrase' },
    });
    assert.equal(ok.status, 200);
    fayToken = ok.json.token;
  });

  it("lists only the employee's own devices", async () => {
    const r = await t.inject('GET', '/api/v1/self/devices', { token: fayToken });
    assert.deepEqual(
      r.json.items.map((d: { id: string }) => d.id),
      [fayDevice],
    );
  });

  it("locks the employee's own device, and answers 404 for another user's", async () => {
    const mine = await t.inject('POST', `/api/v1/self/devices/${fayDevice}/commands`, {
      token: fayToken,
      body: { type: 'lock', message: 'my phone' },
    });
    assert.equal(mine.status, 201, mine.text);
    assert.equal(mine.json.state, 'queued');
    const theirs = await t.inject('POST', `/api/v1/self/devices/${gusDevice}/commands`, {
      token: fayToken,
      body: { type: 'wipe' },
    });
    assert.equal(theirs.status, 404);
    assert.equal(theirs.json.error.code, 'device_not_found');
    const gus = await t.inject('GET', `/api/v1/devices/${gusDevice}`, { token: helpdesk });
    assert.deepEqual(gus.json.commands, [], 'nothing was queued for the other user');
  });

  it("creates an activation password for a new device of the employee's own", async () => {
    const r = await t.inject('POST', '/api/v1/self/activations', { token: fayToken });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.userEmail, 'fay@example.com');
    assert.ok(r.json.password);
  });

  it("refuses an activation password when the employee's policy allows no more devices", async () => {
    const admin = await t.adminToken('security-admin');
    const list = await t.inject('GET', '/api/v1/policies', { token: admin });
    const def = (list.json.items as { id: string; isDefault: boolean }[]).find((p) => p.isDefault);
    assert.ok(def);
    assert.equal(
      (
        await t.inject('PATCH', `/api/v1/policies/${def.id}`, {
          token: admin,
          body: { document: { devicesPerUser: 1 } },
        })
      ).status,
      200,
    );
    const r = await t.inject('POST', '/api/v1/self/activations', { token: fayToken });
    assert.equal(r.status, 409);
    assert.equal(r.json.error.code, 'device_limit_reached');
    await t.inject('PATCH', `/api/v1/policies/${def.id}`, {
      token: admin,
      body: { document: { devicesPerUser: 5 } },
    });
  });

  it('refuses admin routes to an employee token, and self-service routes to an admin token', async () => {
    assert.equal((await t.inject('GET', '/api/v1/users', { token: fayToken })).status, 401);
    assert.equal((await t.inject('GET', '/api/v1/self/devices', { token: helpdesk })).status, 401);
    assert.equal((await t.inject('GET', '/api/v1/self/devices')).status, 401);
  });

  it('audits the invitation, the sign-ins and the command', async () => {
    const admin = await t.adminToken('auditor');
    const r = await t.inject('GET', '/api/v1/audit?limit=500', { token: admin });
    const actions = new Set((r.json.items as { action: string }[]).map((e) => e.action));
    for (const a of [
      'selfservice.invited',
      'selfservice.password_set',
      'selfservice.login',
      'device.command_sent',
    ])
      assert.ok(actions.has(a), a);
  });
});
