import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activateDevice, ApiError } from '@enclave/client';
import { SettingsSchema } from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { People } from '../../test-support/messaging-fixtures.js';

describe('settings', () => {
  let t: TestEnclave;
  let enterprise: string;
  let auditor: string;
  let senior: string;

  const settings = async (token = auditor) =>
    assertBody(await t.inject('GET', '/api/v1/settings', { token }), 200, SettingsSchema);
  const patch = (body: unknown, token = enterprise) => t.inject('PATCH', '/api/v1/settings', { token, body });

  before(async () => {
    t = await testEnclave({ deviceLimit: 4 });
    enterprise = await t.adminToken('enterprise-admin');
    auditor = await t.adminToken('auditor');
    senior = await t.adminToken('senior-helpdesk');
  });
  after(() => t.close());

  describe('GET /api/v1/settings', () => {
    it('shows the organisation, the defaults (--device-limit until one is saved) and both certificates', async () => {
      const s = await settings();
      assert.equal(s.organization, 'Acme Test');
      assert.deepEqual(s.activation, { defaultTtlHours: 48, defaultDeviceLimit: 4 });
      const info = await t.inject('GET', '/api/v1/info');
      assert.equal(s.ca.fingerprint, info.json.caFingerprint);
      assert.match(s.ca.subject, /Acme Test/);
      assert.match(s.tls.fingerprint, /^[0-9a-f]{64}$/);
      assert.notEqual(s.tls.fingerprint, s.ca.fingerprint);
      assert.ok(s.tls.dnsNames.length > 0);
      assert.ok(s.ca.notBefore < s.ca.notAfter && s.tls.notBefore < s.tls.notAfter);
    });
  });

  describe('PATCH /api/v1/settings', () => {
    it('refuses roles without settings:write with 403 forbidden and changes nothing', async () => {
      assertError(await patch({ organization: 'Evil Corp' }, auditor), 403, 'forbidden');
      assertError(await patch({ organization: 'Evil Corp' }, senior), 403, 'forbidden');
      assert.equal((await settings()).organization, 'Acme Test');
    });

    it('rejects invalid values with 400 validation_failed', async () => {
      for (const body of [
        { organization: '   ' },
        { activation: { defaultTtlHours: 0 } },
        { activation: { defaultDeviceLimit: 101 } },
        { activation: { defaultTtlHours: 1.5 } },
        { colour: 'blue' },
        { activation: { defaultTtl: 3 } },
      ])
        assertError(await patch(body), 400, 'validation_failed');
      assert.deepEqual((await settings()).activation, { defaultTtlHours: 48, defaultDeviceLimit: 4 });
    });

    it('renames the organisation, audited with the old and new name, and /api/v1/info follows', async () => {
      const s = assertBody(await patch({ organization: 'Acme Europe' }), 200, SettingsSchema);
      assert.equal(s.organization, 'Acme Europe');
      assert.equal((await settings()).organization, 'Acme Europe');
      assert.equal((await t.inject('GET', '/api/v1/info')).json.organization, 'Acme Europe');
      const audit = await t.inject('GET', '/api/v1/audit?action=settings.organization_changed', {
        token: auditor,
      });
      assert.equal(audit.json.total, 1);
      assert.deepEqual(audit.json.items[0].details, { from: 'Acme Test', to: 'Acme Europe' });
      assert.match(audit.json.items[0].actorLabel, /^enterprise-admin/);
    });

    it('applies the default lifetime to activation passwords created without one', async () => {
      const people = new People(t);
      await people.user('dana@example.com');
      assertBody(await patch({ activation: { defaultTtlHours: 2 } }), 200, SettingsSchema);
      const hours = (a: { createdAt: string; expiresAt: string }) =>
        (Date.parse(a.expiresAt) - Date.parse(a.createdAt)) / 3600_000;
      const implicit = await t.inject('POST', '/api/v1/activations', {
        token: enterprise,
        body: { email: 'dana@example.com' },
      });
      assert.equal(implicit.status, 201, implicit.text);
      assert.equal(hours(implicit.json), 2);
      const explicit = await t.inject('POST', '/api/v1/activations', {
        token: enterprise,
        body: { email: 'dana@example.com', expiresInSeconds: 600 },
      });
      assert.equal(hours(explicit.json), 600 / 3600);
      const audit = await t.inject('GET', '/api/v1/audit?action=settings.updated', { token: auditor });
      assert.deepEqual(audit.json.items[0].details, { defaultTtlHours: { from: 48, to: 2 } });
    });

    it('replaces --device-limit with the saved default device limit', async () => {
      const people = new People(t);
      await people.user('erin@example.com');
      await people.device('erin@example.com');
      assertBody(await patch({ activation: { defaultDeviceLimit: 1 } }), 200, SettingsSchema);
      const p = await t.inject('POST', '/api/v1/activations', {
        token: enterprise,
        body: { email: 'erin@example.com' },
      });
      await assert.rejects(
        activateDevice({
          transport: t.transport,
          email: 'erin@example.com',
          activationPassword: p.json.password,
          platform: 'linux',
          clientVersion: '1.0.0',
        }),
        (err: unknown) => err instanceof ApiError && err.code === 'device_limit_reached',
      );
      assert.equal((await settings()).activation.defaultDeviceLimit, 1);
    });
  });
});
