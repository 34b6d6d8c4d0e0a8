import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AdminMeSchema, ROLE_PERMISSIONS, SelfMeSchema } from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { People } from '../../test-support/messaging-fixtures.js';

describe('who am I: GET /api/v1/auth/me and /api/v1/self/me, POST /api/v1/self/logout', () => {
  let t: TestEnclave;
  let admin: string;
  let employee = '';

  before(async () => {
    t = await testEnclave({ deviceLimit: 2 });
    admin = await t.adminToken('security-admin');
    const people = new People(t);
    await people.user('hana@example.com');
    await people.device('hana@example.com');
    const user = await t.inject('GET', '/api/v1/users?q=hana', { token: admin });
    const inv = await t.inject('POST', `/api/v1/users/${user.json.items[0].id}/invitations`, {
      token: admin,
    });
    const accepted = await t.inject('POST', '/api/v1/self/accept-invitation', {
      body: { email: 'hana@example.com', code: inv.json.code, password: 'hana has a long passphrase' },
    });
    assert.equal(accepted.status, 200, accepted.text);
    employee = accepted.json.token;
  });
  after(() => t.close());

  it("tells the console an administrator's role, permissions and session expiry", async () => {
    const junior = await t.adminToken('junior-helpdesk', 'jun@example.com');
    const me = assertBody(await t.inject('GET', '/api/v1/auth/me', { token: junior }), 200, AdminMeSchema);
    assert.equal(me.email, 'jun@example.com');
    assert.equal(me.role, 'junior-helpdesk');
    assert.deepEqual(me.permissions, [...ROLE_PERMISSIONS['junior-helpdesk']]);
    assert.ok(!me.permissions.includes('devices:wipe'));
    assert.ok(Date.parse(me.sessionExpiresAt) > Date.now());
  });

  it('tells the employee their devices against their limit, and whether they may add one', async () => {
    const me = assertBody(await t.inject('GET', '/api/v1/self/me', { token: employee }), 200, SelfMeSchema);
    assert.equal(me.email, 'hana@example.com');
    assert.equal(me.name, 'hana');
    assert.deepEqual(
      {
        activeDevices: me.activeDevices,
        deviceLimit: me.deviceLimit,
        canCreateActivation: me.canCreateActivation,
      },
      { activeDevices: 1, deviceLimit: 2, canCreateActivation: true },
    );
    assert.ok(Date.parse(me.sessionExpiresAt) > Date.now());
    // The installation default drops to one: the portal must not offer a second device.
    const p = await t.inject('PATCH', '/api/v1/settings', {
      token: admin,
      body: { activation: { defaultDeviceLimit: 1 } },
    });
    assert.equal(p.status, 200, p.text);
    const after = assertBody(
      await t.inject('GET', '/api/v1/self/me', { token: employee }),
      200,
      SelfMeSchema,
    );
    assert.equal(after.canCreateActivation, false);
    assertError(
      await t.inject('POST', '/api/v1/self/activations', { token: employee }),
      409,
      'device_limit_reached',
    );
  });

  it('refuses an administrator token and no token on the portal', async () => {
    assertError(await t.inject('GET', '/api/v1/self/me'), 401, 'unauthenticated');
    assertError(await t.inject('GET', '/api/v1/self/me', { token: admin }), 401, 'unauthenticated');
  });

  it('signs the employee out: the token stops working, and the logout is audited', async () => {
    const out = await t.inject('POST', '/api/v1/self/logout', { token: employee });
    assert.equal(out.status, 200, out.text);
    assert.deepEqual(out.json, { ok: true });
    assertError(await t.inject('GET', '/api/v1/self/me', { token: employee }), 401, 'unauthenticated');
    const audit = await t.inject('GET', '/api/v1/audit?action=selfservice.logout', { token: admin });
    assert.equal(audit.json.total, 1);
    assert.equal(audit.json.items[0].actorLabel, 'hana@example.com');
  });
});
