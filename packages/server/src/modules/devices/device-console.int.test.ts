import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activateDevice } from '@enclave/client';
import { DeviceDetailSchema, DevicePageSchema, UserPageSchema } from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { establish, People, type TestDevice } from '../../test-support/messaging-fixtures.js';

/** What the console's device and user lists and the device page need from the API. */
describe('device and user lists for the console', () => {
  let t: TestEnclave;
  let admin: string;
  let a1: TestDevice;
  let a2: TestDevice;
  let bobIos = '';
  let start = '';

  const devices = async (query: string) =>
    assertBody(await t.inject('GET', `/api/v1/devices?${query}`, { token: admin }), 200, DevicePageSchema);
  const ids = async (query: string) => (await devices(query)).items.map((d) => d.id).sort();

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin');
    start = new Date(Date.now() - 1000).toISOString();
    assert.equal(
      (await t.inject('POST', '/api/v1/groups', { token: admin, body: { name: 'Sales' } })).status,
      201,
    );
    for (const [email, groups] of [
      ['alice@example.com', ['Sales']],
      ['bob@example.com', []],
      ['carol@example.com', ['Sales']],
    ] as const) {
      const r = await t.inject('POST', '/api/v1/users', {
        token: admin,
        body: { email, name: email.split('@')[0], groups },
      });
      assert.equal(r.status, 201, r.text);
    }
    const people = new People(t);
    a1 = await people.device('alice@example.com');
    a2 = await people.device('alice@example.com');
    const p = await t.inject('POST', '/api/v1/activations', {
      token: admin,
      body: { email: 'bob@example.com' },
    });
    bobIos = (
      await activateDevice({
        transport: t.transport,
        email: 'bob@example.com',
        activationPassword: p.json.password,
        platform: 'ios',
        clientVersion: '1.0.0',
      })
    ).deviceId;
    await establish(t, a1, ['bob@example.com']);
    // a1 reports a rooted device: non-compliant (quarantined) at once.
    const r = await t.inject('POST', '/api/v1/device/posture', {
      token: a1.token,
      body: {
        platform: 'linux',
        osVersion: '6.1',
        clientVersion: '1.0.0',
        passcodeSet: true,
        storageEncrypted: true,
        rooted: true,
      },
    });
    assert.equal(r.status, 200, r.text);
    const policy = await t.inject('POST', '/api/v1/policies', {
      token: admin,
      body: { name: 'Sales phones', document: { devicesPerUser: 3 } },
    });
    assert.equal(policy.status, 201, policy.text);
    const groups = await t.inject('GET', '/api/v1/groups', { token: admin });
    const sales = (groups.json.items as { id: string; name: string }[]).find((g) => g.name === 'Sales');
    const assign = await t.inject('POST', `/api/v1/policies/${policy.json.id}/assignments`, {
      token: admin,
      body: { groupId: sales?.id, rank: 10 },
    });
    assert.equal(assign.status, 200, assign.text);
  });
  after(() => t.close());

  it('filters devices by platform and compliance', async () => {
    assert.deepEqual(await ids('platform=ios'), [bobIos]);
    assert.deepEqual(await ids('platform=linux'), [a1.deviceId, a2.deviceId].sort());
    assert.deepEqual(await ids('compliance=non-compliant'), [a1.deviceId]);
    assert.deepEqual(await ids('compliance=compliant'), []);
    assert.deepEqual(await ids('platform=linux&compliance=unknown'), [a2.deviceId]);
  });

  it('filters devices by last contact, counting a device never seen from its activation', async () => {
    const future = new Date(Date.now() + 3600_000).toISOString();
    assert.equal((await devices(`lastContactBefore=${future}`)).total, 3);
    assert.equal((await devices(`lastContactBefore=${start}`)).total, 0);
    assert.equal((await devices(`lastContactAfter=${start}`)).total, 3);
    assert.equal((await devices(`lastContactAfter=${future}`)).total, 0);
  });

  it('rejects unknown filter values with 400 validation_failed', async () => {
    for (const q of ['compliance=bad', 'lastContactBefore=yesterday', 'colour=red'])
      assertError(await t.inject('GET', `/api/v1/devices?${q}`, { token: admin }), 400, 'validation_failed');
  });

  it('shows on the device page its compliance reasons, conversations and effective policy with why', async () => {
    const d = assertBody(
      await t.inject('GET', `/api/v1/devices/${a1.deviceId}`, { token: admin }),
      200,
      DeviceDetailSchema,
    );
    assert.equal(d.compliance, 'non-compliant');
    assert.deepEqual(
      d.complianceReasons?.map((r) => r.code),
      ['device_rooted'],
    );
    assert.equal(d.conversations, 1);
    assert.equal(d.posture?.rooted, true, 'the last posture report is on the device page');
    assert.equal(d.policy.name, 'Sales phones');
    assert.deepEqual(d.policy.source, { kind: 'group', groupName: 'Sales', rank: 10 });
    assert.match(d.policy.explanation, /Sales/);
    const bob = assertBody(
      await t.inject('GET', `/api/v1/devices/${bobIos}`, { token: admin }),
      200,
      DeviceDetailSchema,
    );
    assert.equal(bob.conversations, 0);
    assert.equal(bob.posture, null, 'no report yet');
    assert.equal(bob.policy.source.kind, 'default');
  });

  it('filters users by group and by "without an active device"', async () => {
    const users = async (q: string) =>
      assertBody(
        await t.inject('GET', `/api/v1/users?${q}`, { token: admin }),
        200,
        UserPageSchema,
      ).items.map((u) => u.email);
    assert.deepEqual(await users('withoutDevice=true'), ['carol@example.com']);
    assert.deepEqual(await users('withoutDevice=false'), ['alice@example.com', 'bob@example.com']);
    assert.deepEqual(await users('group=Sales&withoutDevice=true'), ['carol@example.com']);
    assertError(
      await t.inject('GET', '/api/v1/users?withoutDevice=yes', { token: admin }),
      400,
      'validation_failed',
    );
  });

  it("lists a user's activation passwords by user id as by email (the user page)", async () => {
    const users = await t.inject('GET', '/api/v1/users?q=carol', { token: admin });
    const carol = users.json.items[0].id as string;
    await t.inject('POST', '/api/v1/activations', { token: admin, body: { email: 'carol@example.com' } });
    const byId = await t.inject('GET', `/api/v1/activations?userId=${carol}`, { token: admin });
    assert.equal(byId.status, 200, byId.text);
    assert.equal(byId.json.items.length, 1);
    assert.deepEqual(
      byId.json,
      (await t.inject('GET', '/api/v1/activations?email=carol@example.com', { token: admin })).json,
    );
    assertError(
      await t.inject('GET', `/api/v1/activations?userId=${crypto.randomUUID()}`, { token: admin }),
      404,
      'not_found',
    );
    assertError(await t.inject('GET', '/api/v1/activations', { token: admin }), 400, 'validation_failed');
  });
});
