import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { activateDevice, authenticateDevice } from '@enclave/client';
import {
  ActivationCreatedSchema,
  AuditPageSchema,
  DeviceSelfSchema,
  EffectivePolicySchema,
  GroupSchema,
  OkSchema,
  PolicyAffectedSchema,
  PolicyListSchema,
  PolicySchema,
  UserSchema,
  type Policy,
} from '@enclave/protocol';
import type { BusEventMap } from '../../platform/bus/bus.js';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

const ADMIN_EMAIL = 'policy-admin@example.com';

describe('IT policies', () => {
  let t: TestEnclave;
  let token: string;
  let auditor: string;
  let defaultPolicy: Policy;
  const changes: BusEventMap['policy.changed'][] = [];

  const createPolicy = async (name: string, document: Record<string, unknown> = {}) =>
    assertBody(
      await t.inject('POST', '/api/v1/policies', { token, body: { name, document } }),
      201,
      PolicySchema,
    );
  const createGroup = async (name: string) =>
    assertBody(await t.inject('POST', '/api/v1/groups', { token, body: { name } }), 201, GroupSchema);
  const createUser = async (email: string, groups: string[] = []) =>
    assertBody(
      await t.inject('POST', '/api/v1/users', { token, body: { email, name: email, groups } }),
      201,
      UserSchema,
    );
  const assign = async (policyId: string, body: unknown) =>
    assertBody(
      await t.inject('POST', `/api/v1/policies/${policyId}/assignments`, { token, body }),
      200,
      PolicySchema,
    );
  const effective = async (query: string, as = token) =>
    assertBody(
      await t.inject('GET', `/api/v1/policies/effective?${query}`, { token: as }),
      200,
      EffectivePolicySchema,
    );

  before(async () => {
    t = await testEnclave();
    token = await t.adminToken('enterprise-admin', ADMIN_EMAIL);
    auditor = await t.adminToken('auditor');
    t.services.bus.subscribe('policy.changed', (e) => void changes.push(e));
    const list = assertBody(await t.inject('GET', '/api/v1/policies', { token }), 200, PolicyListSchema);
    const found = list.items.find((p) => p.isDefault);
    assert.ok(found, 'no default policy after migration');
    defaultPolicy = found;
  });
  after(() => t.close());

  describe('the default policy', () => {
    it('exists from the start with every setting at its default', () => {
      assert.equal(defaultPolicy.version, 1);
      assert.equal(defaultPolicy.document.passcodeRequired, true);
      assert.equal(defaultPolicy.document.minPasscodeLength, 6);
      assert.equal(defaultPolicy.document.rootedAllowed, false);
      assert.equal(defaultPolicy.document.allowedPlatforms, null);
    });

    it('cannot be deleted (409 policy_is_default)', async () => {
      assertError(
        await t.inject('DELETE', `/api/v1/policies/${defaultPolicy.id}`, { token }),
        409,
        'policy_is_default',
      );
      assertBody(await t.inject('GET', `/api/v1/policies/${defaultPolicy.id}`, { token }), 200, PolicySchema);
    });
  });

  describe('POST /api/v1/policies', () => {
    it('fills settings not given with their defaults and starts at version 1', async () => {
      const p = await createPolicy('Strict', { minPasscodeLength: 10, screenshotsAllowed: false });
      assert.equal(p.version, 1);
      assert.equal(p.isDefault, false);
      assert.equal(p.document.minPasscodeLength, 10);
      assert.equal(p.document.screenshotsAllowed, false);
      assert.equal(p.document.autoLockMinutes, 5);
    });

    it('rejects out-of-bounds and unknown settings with 400 validation_failed naming the path', async () => {
      const low = assertError(
        await t.inject('POST', '/api/v1/policies', {
          token,
          body: { name: 'Bad', document: { minPasscodeLength: 2 } },
        }),
        400,
        'validation_failed',
      );
      assert.ok(
        low.details?.some((d) => d.path.includes('minPasscodeLength')),
        JSON.stringify(low),
      );
      const unknown = assertError(
        await t.inject('POST', '/api/v1/policies', {
          token,
          body: { name: 'Bad', document: { bluetooth: false } },
        }),
        400,
        'validation_failed',
      );
      assert.ok(unknown.details?.length, JSON.stringify(unknown));
      assertError(
        await t.inject('POST', '/api/v1/policies', {
          token,
          body: { name: 'Bad', document: { minOsVersion: { ios: 'seventeen' } } },
        }),
        400,
        'validation_failed',
      );
      assertError(
        await t.inject('POST', '/api/v1/policies', {
          token,
          body: { name: 'Bad', document: { allowedPlatforms: ['ios'], minOsVersion: { android: '14' } } },
        }),
        400,
        'validation_failed',
      );
    });

    it('refuses a duplicate name with 409 policy_name_taken', async () => {
      await createPolicy('Twin');
      assertError(
        await t.inject('POST', '/api/v1/policies', { token, body: { name: 'Twin' } }),
        409,
        'policy_name_taken',
      );
    });
  });

  describe('PATCH /api/v1/policies/:id', () => {
    it('merges settings over the current document and bumps the version on every update', async () => {
      const p = await createPolicy('Versioned', { autoLockMinutes: 10 });
      const v2 = assertBody(
        await t.inject('PATCH', `/api/v1/policies/${p.id}`, {
          token,
          body: { document: { copyPasteAllowed: false } },
        }),
        200,
        PolicySchema,
      );
      assert.equal(v2.version, 2);
      assert.equal(v2.document.copyPasteAllowed, false);
      assert.equal(v2.document.autoLockMinutes, 10, 'a setting not in the patch is kept');
      const v3 = assertBody(
        await t.inject('PATCH', `/api/v1/policies/${p.id}`, {
          token,
          body: { description: 'now documented' },
        }),
        200,
        PolicySchema,
      );
      assert.equal(v3.version, 3);
    });

    it('validates the merged document and leaves the policy unchanged when it is invalid', async () => {
      const p = await createPolicy('Merged', { allowedPlatforms: ['ios', 'android'] });
      const err = assertError(
        await t.inject('PATCH', `/api/v1/policies/${p.id}`, {
          token,
          body: { document: { minOsVersion: { windows: '11' } } },
        }),
        400,
        'validation_failed',
      );
      assert.ok(
        err.details?.some((d) => d.path.includes('minOsVersion')),
        JSON.stringify(err),
      );
      const after = assertBody(
        await t.inject('GET', `/api/v1/policies/${p.id}`, { token }),
        200,
        PolicySchema,
      );
      assert.equal(after.version, 1);
    });

    it('bumps the default policy too, and tells every device to refetch', async () => {
      changes.length = 0;
      const v2 = assertBody(
        await t.inject('PATCH', `/api/v1/policies/${defaultPolicy.id}`, {
          token,
          body: { document: { messageRetentionDays: 90 } },
        }),
        200,
        PolicySchema,
      );
      assert.equal(v2.version, defaultPolicy.version + 1);
      await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(changes, [{ userIds: 'all' }]);
    });
  });

  describe('effective policy (the precedence matrix)', () => {
    let sales: Policy;
    let legal: Policy;
    let vip: Policy;

    before(async () => {
      sales = await createPolicy('Sales policy');
      legal = await createPolicy('Legal policy');
      vip = await createPolicy('VIP policy');
      const salesGroup = await createGroup('Sales');
      const legalGroup = await createGroup('Legal');
      await assign(sales.id, { groupId: salesGroup.id, rank: 20 });
      await assign(legal.id, { groupId: legalGroup.id, rank: 10 });
    });

    it('applies the default to a user with no user or group policy', async () => {
      const u = await createUser('nobody@example.com');
      const e = await effective(`userId=${u.id}`);
      assert.equal(e.policy.id, defaultPolicy.id);
      assert.deepEqual(e.source, { kind: 'default' });
      assert.match(e.explanation, /default/);
    });

    it("applies the only group's policy", async () => {
      const u = await createUser('legal-only@example.com', ['Legal']);
      const e = await effective(`userId=${u.id}`);
      assert.equal(e.policy.id, legal.id);
      assert.deepEqual(e.source, { kind: 'group', groupName: 'Legal', rank: 10 });
    });

    it('picks the highest-ranked group and says which it outranks', async () => {
      const u = await createUser('both@example.com', ['Legal', 'Sales']);
      const e = await effective(`userId=${u.id}`);
      assert.equal(e.policy.id, sales.id);
      assert.deepEqual(e.source, { kind: 'group', groupName: 'Sales', rank: 20 });
      assert.equal(e.explanation, 'assigned to group Sales (rank 20), which outranks Legal (rank 10)');
    });

    it('lets a direct user assignment beat every group, and replaces the previous direct one', async () => {
      const u = await createUser('vip@example.com', ['Legal', 'Sales']);
      await assign(legal.id, { userId: u.id });
      await assign(vip.id, { userId: u.id });
      const e = await effective(`userId=${u.id}`);
      assert.equal(e.policy.id, vip.id);
      assert.deepEqual(e.source, { kind: 'user' });
      assert.match(e.explanation, /directly/);
      const legalNow = assertBody(
        await t.inject('GET', `/api/v1/policies/${legal.id}`, { token }),
        200,
        PolicySchema,
      );
      assert.ok(!legalNow.assignments.users.some((a) => a.userId === u.id), 'a user holds one direct policy');
    });

    it('falls back to the groups when the direct assignment is removed', async () => {
      const u = await createUser('demoted@example.com', ['Legal', 'Sales']);
      await assign(vip.id, { userId: u.id });
      assertBody(
        await t.inject('DELETE', `/api/v1/policies/${vip.id}/assignments/users/${u.id}`, { token }),
        200,
        PolicySchema,
      );
      assert.equal((await effective(`userId=${u.id}`)).policy.id, sales.id);
      assertError(
        await t.inject('DELETE', `/api/v1/policies/${vip.id}/assignments/users/${u.id}`, { token }),
        404,
        'not_found',
      );
    });

    it('follows a re-ranked group', async () => {
      const legalGroup = (await t.inject('GET', '/api/v1/groups?q=Legal', { token })).json.items[0] as {
        id: string;
      };
      await assign(legal.id, { groupId: legalGroup.id, rank: 30 });
      const u = await createUser('reranked@example.com', ['Legal', 'Sales']);
      const e = await effective(`userId=${u.id}`);
      assert.equal(e.policy.id, legal.id);
      assert.equal(e.explanation, 'assigned to group Legal (rank 30), which outranks Sales (rank 20)');
      await assign(legal.id, { groupId: legalGroup.id, rank: 10 });
    });

    it('lists the users a policy applies to, and no one it is overridden for', async () => {
      const affected = assertBody(
        await t.inject('GET', `/api/v1/policies/${sales.id}/affected`, { token }),
        200,
        PolicyAffectedSchema,
      );
      const emails = affected.items.map((i) => i.email);
      assert.ok(emails.includes('both@example.com'));
      assert.ok(!emails.includes('vip@example.com'), 'vip has a direct policy');
      assert.ok(!emails.includes('legal-only@example.com'));
      const dflt = assertBody(
        await t.inject('GET', `/api/v1/policies/${defaultPolicy.id}/affected`, { token }),
        200,
        PolicyAffectedSchema,
      );
      assert.ok(dflt.items.some((i) => i.email === 'nobody@example.com'));
      assert.ok(!dflt.items.some((i) => i.email === 'both@example.com'));
    });

    it('answers 404 for an unknown user, device or group', async () => {
      assertError(
        await t.inject('GET', `/api/v1/policies/effective?userId=${randomUUID()}`, { token }),
        404,
        'user_not_found',
      );
      assertError(
        await t.inject('GET', `/api/v1/policies/effective?deviceId=${randomUUID()}`, { token }),
        404,
        'device_not_found',
      );
      assertError(
        await t.inject('POST', `/api/v1/policies/${sales.id}/assignments`, {
          token,
          body: { groupId: randomUUID(), rank: 1 },
        }),
        404,
        'group_not_found',
      );
      assertError(await t.inject('GET', '/api/v1/policies/effective', { token }), 400, 'validation_failed');
    });

    it('reverts users to the next rule when their policy is deleted', async () => {
      const temp = await createPolicy('Temporary');
      const u = await createUser('temp@example.com', ['Sales']);
      await assign(temp.id, { userId: u.id });
      changes.length = 0;
      assertBody(await t.inject('DELETE', `/api/v1/policies/${temp.id}`, { token }), 200, OkSchema);
      assert.equal((await effective(`userId=${u.id}`)).policy.id, sales.id);
      await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(changes, [{ userIds: [u.id] }]);
    });
  });

  describe('GET /api/v1/device/me and effective by device', () => {
    it("gives the device its user's effective policy with id, version and source", async () => {
      const u = await createUser('device-user@example.com', ['Sales']);
      const created = assertBody(
        await t.inject('POST', '/api/v1/activations', { token, body: { email: u.email } }),
        201,
        ActivationCreatedSchema,
      );
      const device = await activateDevice({
        transport: t.transport,
        email: u.email,
        activationPassword: created.password,
        platform: 'node-linux',
        clientVersion: '0.0.0-test',
      });
      const { token: deviceToken } = await authenticateDevice({
        transport: t.transport,
        deviceId: device.deviceId,
        privateKey: device.keyPair.privateKey,
      });
      const me = assertBody(
        await t.inject('GET', '/api/v1/device/me', { token: deviceToken }),
        200,
        DeviceSelfSchema,
      );
      const byDevice = await effective(`deviceId=${device.deviceId}`);
      assert.equal(byDevice.userId, u.id);
      assert.equal(me.policy.id, byDevice.policy.id);
      assert.equal(me.policy.version, byDevice.policy.version);
      assert.deepEqual(me.policy.source, { kind: 'group', groupName: 'Sales', rank: 20 });
      assert.deepEqual(me.policy.document, byDevice.policy.document);
    });
  });

  describe('permissions', () => {
    it('lets an auditor read policies and effective policies but not change them', async () => {
      assertBody(await t.inject('GET', '/api/v1/policies', { token: auditor }), 200, PolicyListSchema);
      const u = await createUser('audited-read@example.com');
      await effective(`userId=${u.id}`, auditor);
      assertError(
        await t.inject('POST', '/api/v1/policies', { token: auditor, body: { name: 'Nope' } }),
        403,
        'forbidden',
      );
      assertError(
        await t.inject('PATCH', `/api/v1/policies/${defaultPolicy.id}`, {
          token: auditor,
          body: { description: 'x' },
        }),
        403,
        'forbidden',
      );
    });

    it('refuses a helpdesk role with 403', async () => {
      const helpdesk = await t.adminToken('senior-helpdesk');
      assertError(await t.inject('GET', '/api/v1/policies', { token: helpdesk }), 403, 'forbidden');
    });
  });

  describe('audit', () => {
    it('records create, update, assign, unassign and delete with who did it', async () => {
      const p = await createPolicy('Audited policy');
      const u = await createUser('audited-policy@example.com');
      await t.inject('PATCH', `/api/v1/policies/${p.id}`, {
        token,
        body: { document: { rootedAllowed: true } },
      });
      await assign(p.id, { userId: u.id });
      await t.inject('DELETE', `/api/v1/policies/${p.id}/assignments/users/${u.id}`, { token });
      await t.inject('DELETE', `/api/v1/policies/${p.id}`, { token });
      const page = assertBody(
        await t.inject('GET', '/api/v1/audit?limit=500', { token: auditor }),
        200,
        AuditPageSchema,
      );
      const mine = page.items.filter((e) => e.target === 'Audited policy');
      const actions = mine.map((e) => e.action).sort();
      assert.deepEqual(actions, [
        'policy.assigned',
        'policy.created',
        'policy.deleted',
        'policy.unassigned',
        'policy.updated',
      ]);
      for (const e of mine) assert.equal(e.actorLabel, ADMIN_EMAIL);
      const updated = mine.find((e) => e.action === 'policy.updated');
      assert.deepEqual(updated?.details.changed, ['rootedAllowed']);
      assert.equal(updated?.details.version, 2);
    });
  });
});
