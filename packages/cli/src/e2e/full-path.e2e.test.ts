import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, DB, filesUnder, Installation, ok, totp } from './processes.js';

// The whole product as separate processes, once on SQLite and once on PostgreSQL (ENCLAVE_TEST_DB).
const inst = new Installation();
const deviceDir = path.join(inst.work, 'alice-phone');
let url = '';

describe(`the whole path as separate processes (${DB})`, () => {
  let caFingerprint = '';
  let activationPassword = '';
  let deviceId = '';

  before(() => inst.create());

  after(() => inst.destroy());

  it('init creates the PKI and the first Security Administrator offline', () => {
    const r = ok(
      inst.enclave([
        'init',
        '--data',
        inst.dataDir,
        ...inst.dbFlags,
        '--org',
        'Acme Corp',
        '--admin-email',
        'sec@example.com',
        '--admin-password-file',
        inst.passwordFile,
        '--json',
      ]),
    );
    caFingerprint = r.json.caFingerprint;
    assert.match(caFingerprint, /^[0-9a-f]{64}$/);
    const again = inst.enclave([
      'init',
      '--data',
      inst.dataDir,
      ...inst.dbFlags,
      '--org',
      'Acme Corp',
      '--admin-email',
      'x@example.com',
      '--admin-password-file',
      inst.passwordFile,
      '--json',
    ]);
    assert.notEqual(again.code, 0, 'a second init is refused');
    assert.equal(again.stderr.trim().split('\n').length, 1, 'with one line');
  });

  it('the server starts on the same installation and prints the URL and the CA fingerprint', async () => {
    ({ url } = await inst.startServer());
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const log = fs.readFileSync(inst.serverLog, 'utf8');
    assert.ok(log.includes(caFingerprint));
  });

  it('login refuses a wrong CA fingerprint and a wrong password, and signs in with the right ones', () => {
    const wrongCa = inst.enclave([
      'login',
      '--server',
      url,
      '--email',
      'sec@example.com',
      '--password-file',
      inst.passwordFile,
      '--ca-fingerprint',
      'ab'.repeat(32),
      '--json',
    ]);
    assert.notEqual(wrongCa.code, 0);
    const badPw = path.join(inst.work, 'bad-password');
    fs.writeFileSync(badPw, 'not the passphrase at all');
    const wrongPw = inst.enclave([
      'login',
      '--server',
      url,
      '--email',
      'sec@example.com',
      '--password-file',
      badPw,
      '--ca-fingerprint',
      caFingerprint,
      '--json',
    ]);
    assert.notEqual(wrongPw.code, 0);
    assert.match(wrongPw.stderr, /invalid_credentials/);
    const r = ok(
      inst.enclave([
        'login',
        '--server',
        url,
        '--email',
        'sec@example.com',
        '--password-file',
        inst.passwordFile,
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    assert.equal(r.json.role, 'security-admin');
  });

  it('enrols TOTP, then login needs the code (checked with oathtool)', () => {
    const enrol = ok(inst.enclave(['account', 'totp', 'enroll', '--json']));
    const secret = enrol.json.secret as string;
    ok(inst.enclave(['account', 'totp', 'confirm', '--code', totp(secret), '--json']));
    ok(inst.enclave(['logout', '--json']));
    const without = inst.enclave([
      'login',
      '--server',
      url,
      '--email',
      'sec@example.com',
      '--password-file',
      inst.passwordFile,
      '--ca-fingerprint',
      caFingerprint,
      '--json',
    ]);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /totp_required/);
    const r = ok(
      inst.enclave([
        'login',
        '--server',
        url,
        '--email',
        'sec@example.com',
        '--password-file',
        inst.passwordFile,
        '--totp',
        totp(secret, 1),
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    assert.equal(r.json.role, 'security-admin');
  });

  it('adds a user and creates an activation password with its QR payload', () => {
    const u = ok(
      inst.enclave(['users', 'add', '--email', 'alice@example.com', '--name', 'Alice Example', '--json']),
    );
    assert.equal(u.json.email, 'alice@example.com');
    const a = ok(
      inst.enclave(['activation', 'create', '--email', 'alice@example.com', '--expires', '24h', '--json']),
    );
    activationPassword = a.json.password;
    assert.ok(activationPassword.length >= 20);
    assert.equal(JSON.parse(a.json.qr).password, activationPassword);
    assert.ok(Date.parse(a.json.expiresAt) - Date.now() > 23 * 3600_000);
  });

  it('a wrong activation password is rejected', () => {
    const r = inst.enclave([
      'device',
      'activate',
      '--server',
      url,
      '--email',
      'alice@example.com',
      '--activation-password',
      'AAAA-BBBB-CCCC-DDDD-EEEE',
      '--dir',
      path.join(inst.work, 'wrong'),
      '--json',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /activation_password_wrong/);
  });

  it('the device activates, and openssl verifies its certificate against the CA chain it stored', () => {
    const r = ok(
      inst.enclave([
        'device',
        'activate',
        '--server',
        url,
        '--email',
        'alice@example.com',
        '--activation-password',
        activationPassword,
        '--dir',
        deviceDir,
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    deviceId = r.json.deviceId;
    assert.match(
      execFileSync('openssl', ['verify', '-CAfile', r.json.caPath, r.json.certificatePath], {
        encoding: 'utf8',
      }),
      /OK/,
    );
    const rootFp = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], {
      input: fs.readFileSync(r.json.caPath, 'utf8').split(/(?=-----BEGIN CERTIFICATE-----)/)[1],
      encoding: 'utf8',
    });
    assert.equal(rootFp.split('=')[1]?.trim().replace(/:/g, '').toLowerCase(), caFingerprint);
  });

  it('devices list shows it, and the device syncs', () => {
    const list = ok(inst.enclave(['devices', 'list', '--json']));
    const d = (
      list.json.items as {
        id: string;
        userEmail: string;
        platform: string;
        status: string;
        compliance: string;
      }[]
    ).find((x) => x.id === deviceId);
    assert.ok(d, 'the new device is listed');
    assert.equal(d.userEmail, 'alice@example.com');
    assert.equal(d.status, 'active');
    assert.ok(d.platform);
    assert.ok(d.compliance);
    const sync = ok(inst.enclave(['device', 'sync', '--dir', deviceDir, '--json']));
    assert.equal(sync.json.status, 'active');
    // A posture report from flags: the default policy has no OS minimum, so passcode + encryption suffice.
    const posture = ok(
      inst.enclave([
        'device',
        'sync',
        '--dir',
        deviceDir,
        '--os-version',
        '17.4',
        '--passcode-set',
        '--encrypted',
        '--json',
      ]),
    );
    assert.equal(posture.json.compliance, 'compliant');
    assert.deepEqual(posture.json.complianceReasons, []);
  });

  it(
    'backup of the running server → data directory wiped → restore: the same device authenticates',
    {
      skip:
        DB === 'postgres'
          ? 'backup/restore is for the single-node SQLite default (PostgreSQL: pg_dump)'
          : false,
    },
    async () => {
      const archive = path.join(inst.work, 'enclave.backup');
      const b = ok(inst.enclave(['backup', '--data', inst.dataDir, '--out', archive, '--json']));
      assert.ok(b.json.bytes > 0);
      await inst.stopServer();
      fs.rmSync(inst.dataDir, { recursive: true, force: true });
      assert.ok(!fs.existsSync(inst.dataDir));
      const r = ok(inst.enclave(['restore', '--data', inst.dataDir, '--from', archive, '--json']));
      assert.equal(r.json.caFingerprint, caFingerprint);
      await inst.startServer();
      const sync = ok(inst.enclave(['device', 'sync', '--dir', deviceDir, '--json']));
      assert.equal(sync.json.status, 'active', 'the device authenticated with its certificate and key');
    },
  );

  it('the activation password appears nowhere in the data directory, the database or the server log', async () => {
    const needle = activationPassword;
    for (const f of filesUnder(inst.dataDir))
      assert.ok(!fs.readFileSync(f).includes(needle), `found in ${f}`);
    assert.ok(!(await inst.databaseText()).includes(needle), 'found in the database');
    assert.ok(!fs.readFileSync(inst.serverLog, 'utf8').includes(needle), 'found in the server log');
  });

  it('no file in the data directory holds an unencrypted private key', () => {
    for (const f of filesUnder(inst.dataDir)) {
      const bytes = fs.readFileSync(f);
      assert.ok(!bytes.includes('PRIVATE KEY'), `PEM private key in ${f}`);
      // A PKCS#8 Ed25519 key starts with this fixed DER prefix (RFC 8410 §7).
      assert.ok(
        !bytes.includes(Buffer.from('302e020100300506032b657004220420', 'hex')),
        `raw Ed25519 PKCS#8 in ${f}`,
      );
    }
  });

  it('a revoked device can no longer authenticate and its certificate is in the CRL', async () => {
    const cmd = ok(inst.enclave(['devices', 'command', deviceId, 'revoke', '--json']));
    assert.equal(cmd.json.state, 'done');
    const sync = inst.enclave(['device', 'sync', '--dir', deviceDir, '--json']);
    assert.notEqual(sync.code, 0);
    assert.match(sync.stderr, /device_revoked/);
    const crl = await fetchText(`${url}/api/v1/pki/crl`, path.join(deviceDir, 'ca.pem'));
    const crlFile = path.join(inst.work, 'crl.pem');
    fs.writeFileSync(crlFile, crl);
    const v = spawnSync(
      'openssl',
      [
        'verify',
        '-crl_check',
        '-CRLfile',
        crlFile,
        '-CAfile',
        path.join(deviceDir, 'ca.pem'),
        path.join(deviceDir, 'device.pem'),
      ],
      { encoding: 'utf8' },
    );
    assert.notEqual(v.status, 0);
    assert.match(v.stdout + v.stderr, /certificate revoked/);
    const show = ok(inst.enclave(['devices', 'show', deviceId, '--json']));
    assert.deepEqual(
      show.json.commands.map((c: { type: string; state: string }) => [c.type, c.state]),
      [['revoke', 'done']],
    );
  });

  it('audit verify passes, then fails naming the row edited with a database client', async () => {
    const good = ok(inst.enclave(['audit', 'verify', '--json']));
    assert.equal(good.json.ok, true);
    assert.ok(good.json.entries > 5);
    await inst.sql("UPDATE audit_log SET target = 'mallory@example.com' WHERE seq = 4");
    const bad = inst.enclave(['audit', 'verify', '--json']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.json.ok, false);
    assert.equal(bad.json.firstBadSeq, 4);
    assert.match(bad.stderr, /4/);
  });

  it('a wrong inst.kek stops the server with one line and a non-zero exit; the right one restarts it', async () => {
    await inst.stopServer();
    const wrong = spawnSync(
      process.execPath,
      [BIN, 'server', '--data', inst.dataDir, '--listen', '127.0.0.1:0', ...inst.dbFlags],
      {
        env: { ...process.env, ENCLAVE_KEK: `${inst.kek}x` },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.notEqual(wrong.status, 0);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
    assert.match(wrong.stderr, /key-encryption key/);
    const { ms } = await inst.startServer();
    process.stdout.write(`# warm start to ready: ${ms} ms (${DB})\n`);
  });
});

/** GET over HTTPS pinned to the enterprise CA (the device's ca.pem). */
async function fetchText(u: string, caFile: string): Promise<string> {
  const { request, Agent } = await import('undici');
  const res = await request(u, {
    dispatcher: new Agent({ connect: { ca: fs.readFileSync(caFile, 'utf8') } }),
  });
  return res.body.text();
}
