import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ADMIN_PASSWORD, type TestEnclave, testEnclave } from '../../test-support/harness.js';

/** Codes from Debian's oathtool: an implementation of RFC 6238 independent of ours. */
function oathtool(secret: string, offsetSteps = 0): string {
  const now = new Date(Date.now() + offsetSteps * 30_000);
  return execFileSync(
    'oathtool',
    ['--totp', '-b', '--now', now.toISOString().replace('T', ' ').slice(0, 19) + ' UTC', secret],
    { encoding: 'utf8' },
  ).trim();
}

describe('administrator sign-in', () => {
  let t: TestEnclave;
  before(async () => {
    t = await testEnclave();
  });
  after(() => t.close());

  describe('POST /api/v1/setup', () => {
    it('refuses a wrong setup code, accepts the right one once, then reports setup done', async () => {
      const code = await t.services.setup.issueCodeIfNeeded();
      assert.ok(code);
      const body = { email: 'first@example.com', password: ADMIN_PASSWORD };
      const wrong = await t.inject('POST', '/api/v1/setup', {
        body: { ...body, code: 'AAAA-BBBB-CCCC-DDDD-EEEE' },
      });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.json.error.code, 'setup_code_invalid');
      const ok = await t.inject('POST', '/api/v1/setup', { body: { ...body, code } });
      assert.equal(ok.status, 201);
      assert.equal(ok.json.role, 'security-admin');
      const again = await t.inject('POST', '/api/v1/setup', {
        body: { ...body, email: 'second@example.com', code },
      });
      assert.equal(again.status, 409);
      assert.equal(again.json.error.code, 'setup_already_done');
      assert.equal(await t.services.setup.issueCodeIfNeeded(), null, 'no new code once an admin exists');
    });
  });

  describe('POST /api/v1/auth/login', () => {
    it('signs in with the right password and rejects a wrong one with invalid_credentials', async () => {
      const ok = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'first@example.com', password: ADMIN_PASSWORD },
      });
      assert.equal(ok.status, 200);
      assert.match(ok.json.token, /^ens_/);
      assert.equal(ok.json.admin.role, 'security-admin');
      const cookie = String(ok.headers['set-cookie']);
      assert.match(cookie, /enclave_session=ens_/);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.match(cookie, /Secure/);
      const me = await t.inject('GET', '/api/v1/auth/me', { token: ok.json.token });
      assert.equal(me.json.email, 'first@example.com');
      const bad = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'first@example.com', password: 'not the password' },
      });
      assert.equal(bad.status, 401);
      assert.equal(bad.json.error.code, 'invalid_credentials');
      const unknown = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'nobody@example.com', password: 'whatever-whatever' },
      });
      assert.equal(
        unknown.json.error.code,
        'invalid_credentials',
        'an unknown email looks like a wrong password',
      );
    });

    it('throttles an email after 5 failures, even with the right password', async () => {
      await t.adminToken('auditor', 'throttle@example.com');
      for (let i = 0; i < 5; i++) {
        const r = await t.inject('POST', '/api/v1/auth/login', {
          body: { email: 'throttle@example.com', password: `wrong-${i}-xxxxxxx` },
        });
        assert.equal(r.json.error.code, 'invalid_credentials');
      }
      const r = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'throttle@example.com', password: ADMIN_PASSWORD },
      });
      assert.equal(r.status, 429);
      assert.equal(r.json.error.code, 'login_throttled');
    });

    it('uses a browser session cookie only together with the CSRF token on unsafe methods', async () => {
      const login = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'first@example.com', password: ADMIN_PASSWORD },
      });
      const cookie = `enclave_session=${login.json.token as string}`;
      const read = await t.inject('GET', '/api/v1/auth/me', { headers: { cookie } });
      assert.equal(read.status, 200);
      const noCsrf = await t.inject('POST', '/api/v1/groups', {
        headers: { cookie },
        body: { name: 'csrf-test' },
      });
      assert.equal(noCsrf.status, 403);
      assert.equal(noCsrf.json.error.code, 'csrf_failed');
      const wrongCsrf = await t.inject('POST', '/api/v1/groups', {
        headers: { cookie, 'x-csrf-token': 'csrf_wrong' },
        body: { name: 'csrf-test' },
      });
      assert.equal(wrongCsrf.json.error.code, 'csrf_failed');
      const ok = await t.inject('POST', '/api/v1/groups', {
        headers: { cookie, 'x-csrf-token': login.json.csrfToken },
        body: { name: 'csrf-test' },
      });
      assert.equal(ok.status, 201);
    });

    it('ends the session at logout', async () => {
      const login = await t.inject('POST', '/api/v1/auth/login', {
        body: { email: 'first@example.com', password: ADMIN_PASSWORD },
      });
      const token = login.json.token as string;
      assert.equal((await t.inject('POST', '/api/v1/auth/logout', { token })).status, 200);
      const after = await t.inject('GET', '/api/v1/auth/me', { token });
      assert.equal(after.status, 401);
      assert.equal(after.json.error.code, 'unauthenticated');
    });
  });

  describe('TOTP (RFC 6238), checked against oathtool', () => {
    let token: string;
    let secret: string;
    before(async () => {
      token = await t.adminToken('enterprise-admin', 'totp@example.com');
    });

    it('enrols with a code from an independent implementation', async () => {
      const enrol = await t.inject('POST', '/api/v1/auth/totp/enroll', { token });
      assert.equal(enrol.status, 200);
      secret = enrol.json.secret as string;
      assert.match(enrol.json.otpauthUrl, /^otpauth:\/\/totp\/.*secret=/);
      const wrong = await t.inject('POST', '/api/v1/auth/totp/confirm', {
        token,
        body: { code: oathtool(secret, 10) },
      });
      assert.equal(wrong.json.error.code, 'totp_invalid');
      const ok = await t.inject('POST', '/api/v1/auth/totp/confirm', {
        token,
        body: { code: oathtool(secret) },
      });
      assert.equal(ok.status, 200);
      assert.equal(ok.json.totpEnabled, true);
    });

    it('then requires the code at sign-in, rejects a wrong or replayed one, accepts a fresh one', async () => {
      const creds = { email: 'totp@example.com', password: ADMIN_PASSWORD };
      const none = await t.inject('POST', '/api/v1/auth/login', { body: creds });
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, 'totp_required');
      const stale = await t.inject('POST', '/api/v1/auth/login', {
        body: { ...creds, totp: oathtool(secret, -5) },
      });
      assert.equal(stale.json.error.code, 'totp_invalid');
      // The confirm step used the current step; the next step's code (within the drift window) is fresh.
      const next = oathtool(secret, 1);
      const ok = await t.inject('POST', '/api/v1/auth/login', { body: { ...creds, totp: next } });
      assert.equal(ok.status, 200, ok.text);
      const replay = await t.inject('POST', '/api/v1/auth/login', { body: { ...creds, totp: next } });
      assert.equal(replay.status, 401);
      assert.equal(replay.json.error.code, 'totp_invalid');
    });

    it('never stores the TOTP secret in clear', async () => {
      const row = await t.enclave.handle.db
        .selectFrom('admins')
        .selectAll()
        .where('email', '=', 'totp@example.com')
        .executeTakeFirstOrThrow();
      assert.ok(row.totp_secret_sealed);
      assert.ok(!JSON.stringify(row).includes(secret));
    });
  });

  describe('audit of sign-ins', () => {
    it('records successful and failed logins', async () => {
      const token = await t.adminToken('auditor');
      const list = await t.inject('GET', '/api/v1/audit?action=admin.login&limit=200', { token });
      const outcomes = new Set((list.json.items as { outcome: string }[]).map((e) => e.outcome));
      assert.deepEqual([...outcomes].sort(), ['failure', 'success']);
      const setup = await t.inject('GET', '/api/v1/audit?action=admin.setup', { token });
      assert.equal(setup.json.total, 1);
    });
  });
});
