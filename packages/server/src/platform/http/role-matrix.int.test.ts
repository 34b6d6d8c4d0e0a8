import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { activateDevice, authenticateDevice } from '@enclave/client';
import {
  ActivationCreatedSchema,
  AdminListSchema,
  AdminSchema,
  DeviceDetailSchema,
  DeviceSelfSchema,
  type Permission,
  ROLES,
  ROLE_PERMISSIONS,
  type Role,
  UserSchema,
} from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { ADMIN_PASSWORD, type TestEnclave, testEnclave } from '../../test-support/harness.js';

/** A request that gets past validation, so the only thing that can refuse it is authorisation. */
interface Probe {
  url: string;
  body?: unknown;
  csv?: string;
  /** What an allowed role gets: 404 for a random id, 200/201 otherwise. */
  allowed: number;
}

interface MatrixEntry {
  /** The permission docs/API.md gives the route; a route that changes it fails here first. */
  permission: Permission;
  probe(n: string): Probe;
}

const MATRIX_USER = 'matrix-target@example.com';
const id = () => randomUUID();

/**
 * One entry per admin route with a permission, keyed `${method} ${url}`. `n` is unique per call so
 * that creating routes never collide across roles. Random ids make the destructive routes harmless.
 */
const MATRIX: Record<string, MatrixEntry> = {
  'GET /api/v1/admins': { permission: 'admins:read', probe: () => ({ url: '/api/v1/admins', allowed: 200 }) },
  'POST /api/v1/admins': {
    permission: 'admins:manage',
    probe: (n) => ({
      url: '/api/v1/admins',
      body: { email: `matrix-admin-${n}@example.com`, role: 'auditor', password: ADMIN_PASSWORD },
      allowed: 201,
    }),
  },
  'PATCH /api/v1/admins/:id': {
    permission: 'admins:manage',
    probe: () => ({ url: `/api/v1/admins/${id()}`, body: { role: 'auditor' }, allowed: 404 }),
  },
  'DELETE /api/v1/admins/:id': {
    permission: 'admins:manage',
    probe: () => ({ url: `/api/v1/admins/${id()}`, allowed: 404 }),
  },
  'GET /api/v1/users': {
    permission: 'users:read',
    probe: () => ({ url: '/api/v1/users?limit=5', allowed: 200 }),
  },
  'POST /api/v1/users': {
    permission: 'users:write',
    probe: (n) => ({
      url: '/api/v1/users',
      body: { email: `matrix-user-${n}@example.com`, name: 'Matrix' },
      allowed: 201,
    }),
  },
  'POST /api/v1/users/import': {
    permission: 'users:write',
    probe: (n) => ({
      url: '/api/v1/users/import',
      csv: `email,name,groups\nmatrix-csv-${n}@example.com,Matrix CSV,\n`,
      allowed: 200,
    }),
  },
  'GET /api/v1/users/:id': {
    permission: 'users:read',
    probe: () => ({ url: `/api/v1/users/${id()}`, allowed: 404 }),
  },
  'PATCH /api/v1/users/:id': {
    permission: 'users:write',
    probe: () => ({ url: `/api/v1/users/${id()}`, body: { name: 'Renamed' }, allowed: 404 }),
  },
  'DELETE /api/v1/users/:id': {
    permission: 'users:write',
    probe: () => ({ url: `/api/v1/users/${id()}`, allowed: 404 }),
  },
  'GET /api/v1/groups': { permission: 'groups:read', probe: () => ({ url: '/api/v1/groups', allowed: 200 }) },
  'POST /api/v1/groups': {
    permission: 'groups:write',
    probe: (n) => ({ url: '/api/v1/groups', body: { name: `matrix-group-${n}` }, allowed: 201 }),
  },
  'GET /api/v1/groups/:id': {
    permission: 'groups:read',
    probe: () => ({ url: `/api/v1/groups/${id()}`, allowed: 404 }),
  },
  'PATCH /api/v1/groups/:id': {
    permission: 'groups:write',
    probe: () => ({ url: `/api/v1/groups/${id()}`, body: { description: 'x' }, allowed: 404 }),
  },
  'DELETE /api/v1/groups/:id': {
    permission: 'groups:write',
    probe: () => ({ url: `/api/v1/groups/${id()}`, allowed: 404 }),
  },
  'POST /api/v1/activations': {
    permission: 'activations:create',
    probe: () => ({ url: '/api/v1/activations', body: { email: MATRIX_USER }, allowed: 201 }),
  },
  'GET /api/v1/activations': {
    permission: 'users:read',
    probe: () => ({ url: `/api/v1/activations?email=${MATRIX_USER}`, allowed: 200 }),
  },
  'DELETE /api/v1/activations/:id': {
    permission: 'activations:create',
    probe: () => ({ url: `/api/v1/activations/${id()}`, allowed: 404 }),
  },
  'GET /api/v1/devices': {
    permission: 'devices:read',
    probe: () => ({ url: '/api/v1/devices', allowed: 200 }),
  },
  'GET /api/v1/devices/:id': {
    permission: 'devices:read',
    probe: () => ({ url: `/api/v1/devices/${id()}`, allowed: 404 }),
  },
  'POST /api/v1/users/:id/invitations': {
    permission: 'users:write',
    probe: () => ({ url: `/api/v1/users/${id()}/invitations`, allowed: 404 }),
  },
  'POST /api/v1/devices/:id/commands': {
    permission: 'devices:lock',
    probe: () => ({ url: `/api/v1/devices/${id()}/commands`, body: { type: 'lock' }, allowed: 404 }),
  },
  'POST /api/v1/commands': {
    permission: 'devices:lock',
    probe: () => ({ url: '/api/v1/commands', body: { type: 'lock', deviceIds: [id()] }, allowed: 404 }),
  },
  'GET /api/v1/approvals': {
    permission: 'devices:read',
    probe: () => ({ url: '/api/v1/approvals?state=pending_approval', allowed: 200 }),
  },
  'GET /api/v1/approvals/:id': {
    permission: 'devices:read',
    probe: () => ({ url: `/api/v1/approvals/${id()}`, allowed: 404 }),
  },
  'POST /api/v1/approvals/:id/approve': {
    permission: 'approvals:decide',
    probe: () => ({ url: `/api/v1/approvals/${id()}/approve`, body: {}, allowed: 404 }),
  },
  'POST /api/v1/approvals/:id/deny': {
    permission: 'approvals:decide',
    probe: () => ({ url: `/api/v1/approvals/${id()}/deny`, body: {}, allowed: 404 }),
  },
  'POST /api/v1/approvals/:id/cancel': {
    permission: 'devices:lock',
    probe: () => ({ url: `/api/v1/approvals/${id()}/cancel`, allowed: 404 }),
  },
  'GET /api/v1/audit': { permission: 'audit:read', probe: () => ({ url: '/api/v1/audit', allowed: 200 }) },
  'GET /api/v1/audit/verify': {
    permission: 'audit:read',
    probe: () => ({ url: '/api/v1/audit/verify', allowed: 200 }),
  },
  'GET /api/v1/audit/export.csv': {
    permission: 'audit:read',
    probe: () => ({ url: '/api/v1/audit/export.csv?action=admin.login', allowed: 200 }),
  },
  'GET /api/v1/dashboard': {
    permission: 'devices:read',
    probe: () => ({ url: '/api/v1/dashboard', allowed: 200 }),
  },
  'GET /api/v1/settings': {
    permission: 'settings:read',
    probe: () => ({ url: '/api/v1/settings', allowed: 200 }),
  },
  'PATCH /api/v1/settings': {
    permission: 'settings:write',
    probe: () => ({ url: '/api/v1/settings', body: {}, allowed: 200 }),
  },
  'GET /api/v1/webhooks': {
    permission: 'webhooks:read',
    probe: () => ({ url: '/api/v1/webhooks', allowed: 200 }),
  },
  'POST /api/v1/webhooks': {
    permission: 'webhooks:manage',
    probe: (n) => ({
      url: '/api/v1/webhooks',
      // Disabled, so the probe never sends anything.
      body: { url: `https://127.0.0.1:9/matrix-${n}`, events: ['user.created'], enabled: false },
      allowed: 201,
    }),
  },
  'GET /api/v1/webhooks/:id': {
    permission: 'webhooks:read',
    probe: () => ({ url: `/api/v1/webhooks/${id()}`, allowed: 404 }),
  },
  'PATCH /api/v1/webhooks/:id': {
    permission: 'webhooks:manage',
    probe: () => ({ url: `/api/v1/webhooks/${id()}`, body: { description: 'x' }, allowed: 404 }),
  },
  'DELETE /api/v1/webhooks/:id': {
    permission: 'webhooks:manage',
    probe: () => ({ url: `/api/v1/webhooks/${id()}`, allowed: 404 }),
  },
  'POST /api/v1/webhooks/:id/rotate-secret': {
    permission: 'webhooks:manage',
    probe: () => ({ url: `/api/v1/webhooks/${id()}/rotate-secret`, allowed: 404 }),
  },
  'POST /api/v1/webhooks/:id/test': {
    permission: 'webhooks:manage',
    probe: () => ({ url: `/api/v1/webhooks/${id()}/test`, allowed: 404 }),
  },
  'GET /api/v1/webhooks/:id/deliveries': {
    permission: 'webhooks:read',
    probe: () => ({ url: `/api/v1/webhooks/${id()}/deliveries`, allowed: 404 }),
  },
  'GET /api/v1/policies': {
    permission: 'policies:read',
    probe: () => ({ url: '/api/v1/policies', allowed: 200 }),
  },
  'POST /api/v1/policies': {
    permission: 'policies:write',
    probe: (n) => ({ url: '/api/v1/policies', body: { name: `matrix-policy-${n}` }, allowed: 201 }),
  },
  'GET /api/v1/policies/effective': {
    permission: 'policies:read',
    probe: () => ({ url: `/api/v1/policies/effective?userId=${id()}`, allowed: 404 }),
  },
  'GET /api/v1/policies/:id': {
    permission: 'policies:read',
    probe: () => ({ url: `/api/v1/policies/${id()}`, allowed: 404 }),
  },
  'PATCH /api/v1/policies/:id': {
    permission: 'policies:write',
    probe: () => ({ url: `/api/v1/policies/${id()}`, body: { description: 'x' }, allowed: 404 }),
  },
  'DELETE /api/v1/policies/:id': {
    permission: 'policies:write',
    probe: () => ({ url: `/api/v1/policies/${id()}`, allowed: 404 }),
  },
  'GET /api/v1/policies/:id/affected': {
    permission: 'policies:read',
    probe: () => ({ url: `/api/v1/policies/${id()}/affected`, allowed: 404 }),
  },
  'POST /api/v1/policies/:id/assignments': {
    permission: 'policies:write',
    probe: () => ({ url: `/api/v1/policies/${id()}/assignments`, body: { userId: id() }, allowed: 404 }),
  },
  'DELETE /api/v1/policies/:id/assignments/users/:userId': {
    permission: 'policies:write',
    probe: () => ({ url: `/api/v1/policies/${id()}/assignments/users/${id()}`, allowed: 404 }),
  },
  'DELETE /api/v1/policies/:id/assignments/groups/:groupId': {
    permission: 'policies:write',
    probe: () => ({ url: `/api/v1/policies/${id()}/assignments/groups/${id()}`, allowed: 404 }),
  },
};

/** A request for any admin route, including those without a permission (auth/me, logout, TOTP). */
function anyAdminProbe(method: string, url: string, n: string): Probe {
  const entry = MATRIX[`${method} ${url}`];
  if (entry) return entry.probe(n);
  if (url === '/api/v1/auth/totp/confirm') return { url, body: { code: '123456' }, allowed: 400 };
  return { url, allowed: 200 };
}

describe('role matrix', () => {
  let t: TestEnclave;
  const tokens = {} as Record<Role, string>;
  let counter = 0;
  const send = (method: string, p: Probe, token?: string) =>
    t.inject(method, p.url, {
      ...(token ? { token } : {}),
      ...(p.body !== undefined ? { body: p.body } : {}),
      ...(p.csv !== undefined ? { payload: p.csv, headers: { 'content-type': 'text/csv' } } : {}),
    });
  const adminRoutes = () => t.routes.filter((r) => r.auth === 'admin');

  before(async () => {
    t = await testEnclave();
    for (const role of ROLES) tokens[role] = await t.adminToken(role);
    assertBody(
      await t.inject('POST', '/api/v1/users', {
        token: tokens['security-admin'],
        body: { email: MATRIX_USER, name: 'Matrix Target' },
      }),
      201,
      UserSchema,
    );
  });
  after(() => t.close());

  describe('every admin route with a permission', () => {
    it('has a request in the matrix, and the matrix has no stale entries', () => {
      const routes = adminRoutes()
        .filter((r) => r.permission)
        .map((r) => `${r.method} ${r.url}`)
        .sort();
      assert.deepEqual(
        routes,
        Object.keys(MATRIX).sort(),
        'add an entry to MATRIX for each new admin route (and drop entries for removed ones)',
      );
    });

    it('requires the permission docs/API.md gives it', () => {
      const wrong = adminRoutes()
        .filter((r) => r.permission && MATRIX[`${r.method} ${r.url}`]?.permission !== r.permission)
        .map(
          (r) =>
            `${r.method} ${r.url} requires ${r.permission ?? '-'}, expected ${MATRIX[`${r.method} ${r.url}`]?.permission ?? '-'}`,
        );
      assert.deepEqual(wrong, []);
    });

    for (const role of ROLES) {
      it(`lets ${withArticle(role)} through exactly where ROLE_PERMISSIONS allows, and refuses it with 403 forbidden elsewhere`, async () => {
        const mismatches: string[] = [];
        let allowedCount = 0;
        for (const r of adminRoutes()) {
          if (!r.permission) continue;
          const entry = MATRIX[`${r.method} ${r.url}`];
          if (!entry) continue; // reported by the coverage test
          const probe = entry.probe(`${role}-${counter++}`);
          const res = await send(r.method, probe, tokens[role]);
          const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
          const mayCall = ROLE_PERMISSIONS[role].includes(r.permission);
          if (mayCall) {
            allowedCount++;
            if (res.status !== probe.allowed)
              mismatches.push(
                `${r.method} ${probe.url}: allowed, expected ${probe.allowed}, got ${res.status} ${res.text.slice(0, 200)}`,
              );
          } else if (res.status !== 403 || code !== 'forbidden') {
            mismatches.push(
              `${r.method} ${probe.url}: expected 403 forbidden, got ${res.status} ${code ?? res.text.slice(0, 200)}`,
            );
          }
        }
        assert.deepEqual(mismatches, []);
        assert.ok(allowedCount > 0, `${role} was allowed nothing: the probes did not run`);
      });
    }
  });

  describe('without a token', () => {
    it('answers 401 unauthenticated on every admin route', async () => {
      const wrong: string[] = [];
      for (const r of adminRoutes()) {
        const res = await send(r.method, anyAdminProbe(r.method, r.url, `anon-${counter++}`));
        const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
        if (res.status !== 401 || code !== 'unauthenticated')
          wrong.push(`${r.method} ${r.url}: ${res.status} ${code ?? res.text.slice(0, 200)}`);
      }
      assert.ok(adminRoutes().length >= Object.keys(MATRIX).length);
      assert.deepEqual(wrong, []);
    });

    it('answers 401 unauthenticated to a made-up bearer token', async () => {
      assertError(
        await t.inject('GET', '/api/v1/users', { token: 'ens_not-a-real-session' }),
        401,
        'unauthenticated',
      );
    });
  });

  describe('with a device token', () => {
    let deviceId: string;
    let deviceToken: string;

    before(async () => {
      const sa = tokens['security-admin'];
      assertBody(
        await t.inject('POST', '/api/v1/users', {
          token: sa,
          body: { email: 'device-owner@example.com', name: 'Device Owner' },
        }),
        201,
        UserSchema,
      );
      const created = assertBody(
        await t.inject('POST', '/api/v1/activations', {
          token: sa,
          body: { email: 'device-owner@example.com' },
        }),
        201,
        ActivationCreatedSchema,
      );
      const device = await activateDevice({
        transport: t.transport,
        email: 'device-owner@example.com',
        activationPassword: created.password,
        platform: 'node-linux',
        clientVersion: '0.0.0-test',
      });
      deviceId = device.deviceId;
      deviceToken = (
        await authenticateDevice({ transport: t.transport, deviceId, privateKey: device.keyPair.privateKey })
      ).token;
    });

    it('works on the device route, so the token itself is valid', async () => {
      const self = assertBody(
        await t.inject('GET', '/api/v1/device/me', { token: deviceToken }),
        200,
        DeviceSelfSchema,
      );
      assert.equal(self.deviceId, deviceId);
    });

    it('cannot call any admin route (401 unauthenticated)', async () => {
      const wrong: string[] = [];
      for (const r of adminRoutes()) {
        const res = await send(r.method, anyAdminProbe(r.method, r.url, `device-${counter++}`), deviceToken);
        const code = (res.json as { error?: { code?: string } } | undefined)?.error?.code;
        if (res.status !== 401 || code !== 'unauthenticated')
          wrong.push(`${r.method} ${r.url}: ${res.status} ${code ?? res.text.slice(0, 200)}`);
      }
      assert.deepEqual(wrong, []);
    });

    it('is not replaced by an admin token on the device route', async () => {
      assertError(
        await t.inject('GET', '/api/v1/device/me', { token: tokens['security-admin'] }),
        401,
        'unauthenticated',
      );
    });

    it('refuses a junior-helpdesk revoking the device with 403, and the device stays active', async () => {
      assertError(
        await t.inject('POST', `/api/v1/devices/${deviceId}/commands`, {
          token: tokens['junior-helpdesk'],
          body: { type: 'revoke' },
        }),
        403,
        'forbidden',
      );
      const detail = assertBody(
        await t.inject('GET', `/api/v1/devices/${deviceId}`, { token: tokens['junior-helpdesk'] }),
        200,
        DeviceDetailSchema,
      );
      assert.equal(detail.status, 'active');
      assert.deepEqual(detail.commands, []);
      assertBody(await t.inject('GET', '/api/v1/device/me', { token: deviceToken }), 200, DeviceSelfSchema);
    });
  });

  describe('POST /api/v1/admins', () => {
    const newAdmin = (role: Role) => ({
      email: `new-${role}-${counter++}@example.com`,
      role,
      password: ADMIN_PASSWORD,
    });

    it('refuses an auditor with 403 forbidden and creates nobody', async () => {
      const body = newAdmin('auditor');
      assertError(
        await t.inject('POST', '/api/v1/admins', { token: tokens.auditor, body }),
        403,
        'forbidden',
      );
      const list = assertBody(
        await t.inject('GET', '/api/v1/admins', { token: tokens.auditor }),
        200,
        AdminListSchema,
      );
      assert.ok(!emailsOf(list).includes(body.email));
    });

    for (const role of ROLES) {
      it(`refuses an enterprise-admin creating ${withArticle(role)} with 403 forbidden`, async () => {
        const body = newAdmin(role);
        assertError(
          await t.inject('POST', '/api/v1/admins', { token: tokens['enterprise-admin'], body }),
          403,
          'forbidden',
        );
        const list = assertBody(
          await t.inject('GET', '/api/v1/admins', { token: tokens['enterprise-admin'] }),
          200,
          AdminListSchema,
        );
        assert.ok(!emailsOf(list).includes(body.email));
      });
    }

    it('lets a security-admin create an admin who can then sign in with its role', async () => {
      const body = newAdmin('senior-helpdesk');
      const created = assertBody(
        await t.inject('POST', '/api/v1/admins', { token: tokens['security-admin'], body }),
        201,
        AdminSchema,
      );
      assert.equal(created.role, 'senior-helpdesk');
      const login = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: body.email, password: body.password },
      });
      assert.equal(login.status, 200, login.text);
      const token = (login.json as { token: string }).token;
      assertError(await t.inject('GET', '/api/v1/admins', { token }), 403, 'forbidden');
    });
  });

  describe('the last security-admin', () => {
    let ownId: string;

    before(async () => {
      ownId = assertBody(
        await t.inject('GET', '/api/v1/auth/me', { token: tokens['security-admin'] }),
        200,
        AdminSchema,
      ).id;
    });

    it('cannot be demoted (409 last_security_admin) and keeps its role', async () => {
      assertError(
        await t.inject('PATCH', `/api/v1/admins/${ownId}`, {
          token: tokens['security-admin'],
          body: { role: 'enterprise-admin' },
        }),
        409,
        'last_security_admin',
      );
      const me = assertBody(
        await t.inject('GET', '/api/v1/auth/me', { token: tokens['security-admin'] }),
        200,
        AdminSchema,
      );
      assert.equal(me.role, 'security-admin');
    });

    it('cannot be deleted (409 last_security_admin) and can still sign in', async () => {
      assertError(
        await t.inject('DELETE', `/api/v1/admins/${ownId}`, { token: tokens['security-admin'] }),
        409,
        'last_security_admin',
      );
      assertBody(
        await t.inject('GET', '/api/v1/auth/me', { token: tokens['security-admin'] }),
        200,
        AdminSchema,
      );
    });

    it('can be demoted once another security-admin exists, and the demotion ends its old session', async () => {
      const second = await t.adminToken('security-admin');
      const secondId = assertBody(
        await t.inject('GET', '/api/v1/auth/me', { token: second }),
        200,
        AdminSchema,
      ).id;
      const demoted = assertBody(
        await t.inject('PATCH', `/api/v1/admins/${secondId}`, {
          token: tokens['security-admin'],
          body: { role: 'auditor' },
        }),
        200,
        AdminSchema,
      );
      assert.equal(demoted.role, 'auditor');
      assertError(await t.inject('GET', '/api/v1/auth/me', { token: second }), 401, 'unauthenticated');
      // ...and with the second one demoted, the first is the last one again.
      assertError(
        await t.inject('DELETE', `/api/v1/admins/${ownId}`, { token: tokens['security-admin'] }),
        409,
        'last_security_admin',
      );
    });
  });
});

/** `an auditor`, `a security-admin`: test names read as sentences. */
function withArticle(role: Role): string {
  return `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;
}

function emailsOf(list: { items: { email: string }[] }): string[] {
  return list.items.map((a) => a.email);
}
