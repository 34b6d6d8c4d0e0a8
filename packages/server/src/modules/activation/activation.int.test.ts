import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ActivatedDevice,
  activateDevice,
  ApiError,
  authenticateDevice,
  DeviceClient,
} from '@enclave/client';
import { signEd25519 } from '@enclave/crypto';
import { deviceAuthSigningInput } from '@enclave/protocol';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-act-'));

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

/** Every value the database holds, as one string (what someone with a database client could read). */
async function dumpDatabase(t: TestEnclave): Promise<string> {
  const tables = [
    'meta',
    'keystore',
    'admins',
    'admin_sessions',
    'users',
    'groups',
    'activations',
    'activation_attempts',
    'devices',
    'device_commands',
    'device_challenges',
    'device_sessions',
    'audit_log',
  ] as const;
  const parts: string[] = [];
  for (const tbl of tables)
    parts.push(JSON.stringify(await t.enclave.handle.db.selectFrom(tbl).selectAll().execute()));
  return parts.join('\n');
}

describe('device activation (OPAQUE)', () => {
  let t: TestEnclave;
  let helpdesk: string;
  let admin: string;
  const activate = (
    email: string,
    activationPassword: string,
    extra: Partial<Parameters<typeof activateDevice>[0]> = {},
  ) =>
    activateDevice({
      transport: t.transport,
      email,
      activationPassword,
      platform: 'ios',
      clientVersion: '1.0.0',
      ...extra,
    });
  const newPassword = async (email: string, expiresInSeconds?: number) => {
    const r = await t.inject('POST', '/api/v1/activations', {
      token: helpdesk,
      body: { email, ...(expiresInSeconds ? { expiresInSeconds } : {}) },
    });
    assert.equal(r.status, 201, r.text);
    return r.json as { id: string; password: string; qr: string; expiresAt: string };
  };

  before(async () => {
    t = await testEnclave({ deviceLimit: 2 });
    admin = await t.adminToken('security-admin');
    helpdesk = await t.adminToken('junior-helpdesk');
    for (const [email, name] of [
      ['alice@example.com', 'Alice'],
      ['bob@example.com', 'Bob'],
      ['carol@example.com', 'Carol'],
      ['dave@example.com', 'Dave'],
    ]) {
      assert.equal(
        (await t.inject('POST', '/api/v1/users', { token: admin, body: { email, name } })).status,
        201,
      );
    }
  });
  after(() => t.close());

  describe('a good activation', () => {
    let device: ActivatedDevice;
    let created: { id: string; password: string; qr: string; expiresAt: string };

    it('issues a certificate that openssl verifies against the chain the device learned over OPAQUE', async () => {
      created = await newPassword('alice@example.com');
      assert.match(created.password, /^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{4}){4}$/);
      const qr = JSON.parse(created.qr);
      assert.equal(qr.password, created.password);
      assert.equal(qr.email, 'alice@example.com');
      assert.equal(qr.caFingerprint, t.enclave.pki.caFingerprint);
      // A person may type it in lower case with spaces.
      const typed = created.password.toLowerCase().replace(/-/g, ' - ');
      device = await activate('alice@example.com', typed, {
        expectedCaFingerprint: t.enclave.pki.caFingerprint,
      });
      assert.equal(device.caFingerprint, t.enclave.pki.caFingerprint);
      assert.equal(device.userEmail, 'alice@example.com');
      const ca = path.join(tmp, 'ca.pem');
      const cert = path.join(tmp, 'device.pem');
      fs.writeFileSync(ca, device.chainPem.join('\n'));
      fs.writeFileSync(cert, device.certificatePem);
      assert.match(execFileSync('openssl', ['verify', '-CAfile', ca, cert], { encoding: 'utf8' }), /OK/);
    });

    it('records the device with platform, client version and activation time', async () => {
      const list = await t.inject('GET', '/api/v1/devices', { token: helpdesk });
      const d = (
        list.json.items as {
          id: string;
          userEmail: string;
          platform: string;
          clientVersion: string;
          status: string;
          activatedAt: string;
        }[]
      ).find((x) => x.id === device.deviceId);
      assert.ok(d);
      assert.equal(d.userEmail, 'alice@example.com');
      assert.equal(d.platform, 'ios');
      assert.equal(d.clientVersion, '1.0.0');
      assert.equal(d.status, 'active');
      assert.ok(Date.now() - Date.parse(d.activatedAt) < 60_000);
      const acts = await t.inject('GET', '/api/v1/activations?email=alice@example.com', { token: helpdesk });
      assert.equal(acts.json.items[0].status, 'used');
    });

    it('refuses the same password a second time with activation_used', async () => {
      await rejectsWith(activate('alice@example.com', created.password), 'activation_used');
    });

    it('never stores the activation password anywhere in the database', async () => {
      const dump = await dumpDatabase(t);
      assert.ok(!dump.includes(created.password));
      assert.ok(!dump.includes(created.password.replace(/-/g, '')));
    });

    it('lets the device authenticate with its key and see itself', async () => {
      const tok = await authenticateDevice({
        transport: t.transport,
        deviceId: device.deviceId,
        privateKey: device.privateKeyPkcs8,
      });
      const me = await new DeviceClient(t.transport, tok.token).me();
      assert.equal(me.deviceId, device.deviceId);
      assert.equal(me.status, 'active');
    });
  });

  describe('wrong, expired and locked passwords', () => {
    it('rejects a wrong password, and an unknown email the same way', async () => {
      await newPassword('bob@example.com');
      await rejectsWith(activate('bob@example.com', 'AAAA-BBBB-CCCC-DDDD-EEEE'), 'activation_password_wrong');
      await rejectsWith(
        activate('nobody@example.com', 'AAAA-BBBB-CCCC-DDDD-EEEE'),
        'activation_password_wrong',
      );
    });

    it('kills the password after 5 wrong tries, even when the right value comes next', async () => {
      const good = await newPassword('carol@example.com');
      for (let i = 0; i < 4; i++)
        await rejectsWith(
          activate('carol@example.com', `WRNG-${i}AAA-BBBB-CCCC-DDDD`),
          'activation_password_wrong',
        );
      await rejectsWith(activate('carol@example.com', 'WRNG-5AAA-BBBB-CCCC-DDDD'), 'activation_locked');
      await rejectsWith(activate('carol@example.com', good.password), 'activation_locked');
      const acts = await t.inject('GET', '/api/v1/activations?email=carol@example.com', { token: helpdesk });
      assert.equal(acts.json.items[0].status, 'locked');
    });

    it('rejects an expired password with activation_expired', async () => {
      const p = await newPassword('dave@example.com', 60);
      await t.enclave.handle.db
        .updateTable('activations')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .where('id', '=', p.id)
        .execute();
      await rejectsWith(activate('dave@example.com', p.password), 'activation_expired');
    });

    it('keeps several live passwords per user apart, and a right try does not count against the others', async () => {
      const first = await newPassword('dave@example.com');
      const second = await newPassword('dave@example.com');
      const d = await activate('dave@example.com', second.password);
      assert.ok(d.deviceId);
      const acts = (await t.inject('GET', '/api/v1/activations?email=dave@example.com', { token: helpdesk }))
        .json.items as { id: string; status: string; failedAttempts: number }[];
      assert.equal(acts.find((a) => a.id === second.id)?.status, 'used');
      const other = acts.find((a) => a.id === first.id);
      assert.equal(other?.status, 'live');
      assert.equal(other?.failedAttempts, 0);
    });

    it('rejects a password revoked by the helpdesk', async () => {
      const p = await newPassword('bob@example.com');
      assert.equal(
        (await t.inject('DELETE', `/api/v1/activations/${p.id}`, { token: helpdesk })).status,
        200,
      );
      await rejectsWith(activate('bob@example.com', p.password), 'activation_expired');
    });

    it('refuses a server whose CA does not match the fingerprint the device was given', async () => {
      const p = await newPassword('bob@example.com');
      await rejectsWith(
        activate('bob@example.com', p.password, { expectedCaFingerprint: 'ab'.repeat(32) }),
        'server_untrusted',
      );
    });

    it('enforces the per-user device limit', async () => {
      await activate('dave@example.com', (await newPassword('dave@example.com')).password); // dave's second device
      await rejectsWith(
        activate('dave@example.com', (await newPassword('dave@example.com')).password),
        'device_limit_reached',
      );
    });

    it('answers a garbage OPAQUE message with a 400, not a 500', async () => {
      const r = await t.inject('POST', '/api/v1/activation/start', {
        body: { email: 'bob@example.com', startLoginRequest: 'AAAA' },
      });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.code, 'validation_failed');
      const f = await t.inject('POST', '/api/v1/activation/finish', {
        body: { attemptId: crypto.randomUUID(), index: 0, finishLoginRequest: 'AAAA', sealed: 'AAAA' },
      });
      assert.equal(f.status, 401);
      assert.equal(f.json.error.code, 'activation_session_invalid');
    });

    it('audits creation, use, failures and the lock', async () => {
      const r = await t.inject('GET', '/api/v1/audit?limit=500', { token: admin });
      const actions = new Set((r.json.items as { action: string }[]).map((e) => e.action));
      for (const a of [
        'activation.created',
        'activation.used',
        'activation.failed',
        'activation.locked',
        'device.activated',
      ])
        assert.ok(actions.has(a), a);
    });
  });
});

describe('device authentication and revocation', () => {
  let t: TestEnclave;
  let admin: string;
  let device: ActivatedDevice;

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin');
    await t.inject('POST', '/api/v1/users', {
      token: admin,
      body: { email: 'erin@example.com', name: 'Erin' },
    });
    const p = await t.inject('POST', '/api/v1/activations', {
      token: admin,
      body: { email: 'erin@example.com' },
    });
    device = await activateDevice({
      transport: t.transport,
      email: 'erin@example.com',
      activationPassword: p.json.password,
      platform: 'android',
      clientVersion: '1.0.0',
    });
  });
  after(() => t.close());

  it('refuses a signature by another key, and a challenge answered twice', async () => {
    const ch = await t.inject('POST', '/api/v1/device-auth/challenge', {
      body: { deviceId: device.deviceId },
    });
    const other = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    const input = Buffer.from(deviceAuthSigningInput(ch.json.challengeId, ch.json.nonce, device.deviceId));
    const forged = await signEd25519(other.privateKey, input);
    const r1 = await t.inject('POST', '/api/v1/device-auth/token', {
      body: { challengeId: ch.json.challengeId, signature: forged.toString('base64url') },
    });
    assert.equal(r1.status, 401);
    assert.equal(r1.json.error.code, 'signature_invalid');
    const r2 = await t.inject('POST', '/api/v1/device-auth/token', {
      body: { challengeId: ch.json.challengeId, signature: forged.toString('base64url') },
    });
    assert.equal(r2.json.error.code, 'challenge_invalid', 'a challenge is single-use');
  });

  it('cuts a revoked device off at once: its token and a new challenge get 401, and its certificate is in the CRL', async () => {
    const tok = await authenticateDevice({
      transport: t.transport,
      deviceId: device.deviceId,
      privateKey: device.privateKeyPkcs8,
    });
    assert.equal((await t.inject('GET', '/api/v1/device/me', { token: tok.token })).status, 200);
    const crlBefore = await t.inject('GET', '/api/v1/pki/crl');
    const serial = (await t.inject('GET', `/api/v1/devices/${device.deviceId}`, { token: admin })).json
      .certificateSerial as string;

    const cmd = await t.inject('POST', `/api/v1/devices/${device.deviceId}/commands`, {
      token: admin,
      body: { type: 'revoke' },
    });
    assert.equal(cmd.status, 201);
    assert.equal(cmd.json.state, 'done');

    const me = await t.inject('GET', '/api/v1/device/me', { token: tok.token });
    assert.equal(me.status, 401);
    assert.equal(me.json.error.code, 'device_revoked');
    const ch = await t.inject('POST', '/api/v1/device-auth/challenge', {
      body: { deviceId: device.deviceId },
    });
    assert.equal(ch.status, 401);
    assert.equal(ch.json.error.code, 'device_revoked');

    const crlFile = path.join(tmp, 'crl.pem');
    fs.writeFileSync(crlFile, (await t.inject('GET', '/api/v1/pki/crl')).text);
    const text = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, new RegExp(`Serial Number: ${serial.toUpperCase()}`));
    assert.doesNotMatch(
      crlBefore.text.length
        ? execFileSync('openssl', ['crl', '-noout', '-text'], { input: crlBefore.text, encoding: 'utf8' })
        : '',
      new RegExp(serial.toUpperCase()),
    );

    const detail = await t.inject('GET', `/api/v1/devices/${device.deviceId}`, { token: admin });
    assert.equal(detail.json.status, 'revoked');
    assert.deepEqual(
      (detail.json.commands as { type: string; state: string }[]).map((c) => [c.type, c.state]),
      [['revoke', 'done']],
    );
    const again = await t.inject('POST', `/api/v1/devices/${device.deviceId}/commands`, {
      token: admin,
      body: { type: 'revoke' },
    });
    assert.equal(again.status, 409);
  });
});
