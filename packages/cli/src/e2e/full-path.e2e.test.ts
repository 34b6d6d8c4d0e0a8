import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import pg from 'pg';

// The whole product as separate processes: the built `enclave` binary, a real server on a real
// port, and the database it chose. Runs once on SQLite and once on PostgreSQL (ENCLAVE_TEST_DB).
const DB = (process.env.ENCLAVE_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
const PG_ADMIN = process.env.ENCLAVE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/enclave.js');
const KEK = randomBytes(32).toString('base64url');

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-'));
const dataDir = path.join(work, 'data');
const configDir = path.join(work, 'config');
const deviceDir = path.join(work, 'alice-phone');
const passwordFile = path.join(work, 'admin-password');
const serverLog = path.join(work, 'server.log');
fs.writeFileSync(passwordFile, 'a long and careful admin passphrase\n');

let dbUrl: string | undefined;
let pgName: string | undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each test asserts the fields it needs
}

function enclave(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ENCLAVE_KEK: KEK, ENCLAVE_CONFIG: configDir, ...env },
    timeout: 60_000,
  });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

/** `oathtool`, Debian's independent RFC 6238 implementation, at now + `steps` × 30 s. */
function totp(secret: string, steps = 0): string {
  const at = new Date(Date.now() + steps * 30_000).toISOString().replace('T', ' ').slice(0, 19);
  return execFileSync('oathtool', ['--totp', '-b', '--now', `${at} UTC`, secret], {
    encoding: 'utf8',
  }).trim();
}

let server: ChildProcess | undefined;
let url = '';

async function startServer(env: Record<string, string> = {}): Promise<{ url: string; ms: number }> {
  const t0 = Date.now();
  const out = fs.openSync(serverLog, 'a');
  const args = [
    BIN,
    'server',
    '--data',
    dataDir,
    '--listen',
    '127.0.0.1:0',
    '--json',
    ...(dbUrl ? ['--db', dbUrl] : []),
  ];
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ENCLAVE_KEK: KEK, ...env },
    stdio: ['ignore', 'pipe', out],
  });
  server = child;
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`server not ready in 30 s: ${buf}`)), 30_000);
    child.stdout?.on('data', (d: Buffer) => {
      fs.appendFileSync(serverLog, d);
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) {
        clearTimeout(timer);
        resolve({ url: (JSON.parse(line) as { url: string }).url, ms: Date.now() - t0 });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${buf}`));
    });
  });
}

async function stopServer(): Promise<void> {
  const child = server;
  server = undefined;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Everything a person with a database client could read. */
async function databaseText(): Promise<string> {
  if (DB === 'postgres') {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    const tables = (
      await c.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'")
    ).rows;
    const parts = [];
    for (const { tablename } of tables)
      parts.push(JSON.stringify((await c.query(`select * from "${tablename}"`)).rows));
    await c.end();
    return parts.join('\n');
  }
  const db = new SQLite(path.join(dataDir, 'enclave.db'), { readonly: true });
  const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as {
    name: string;
  }[];
  const text = tables
    .map(({ name }) => JSON.stringify(db.prepare(`select * from "${name}"`).all()))
    .join('\n');
  db.close();
  return text;
}

async function tamperAudit(statement: string): Promise<void> {
  if (DB === 'postgres') {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    await c.query(statement);
    await c.end();
  } else {
    const db = new SQLite(path.join(dataDir, 'enclave.db'));
    db.exec(statement);
    db.close();
  }
}

function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe(`the whole path as separate processes (${DB})`, () => {
  let caFingerprint = '';
  let activationPassword = '';
  let deviceId = '';

  before(async () => {
    if (DB === 'postgres') {
      pgName = `enclave_e2e_${randomBytes(5).toString('hex')}`;
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`CREATE DATABASE ${pgName}`);
      await c.end();
      const u = new URL(PG_ADMIN);
      u.pathname = `/${pgName}`;
      dbUrl = u.toString();
    }
  });

  after(async () => {
    await stopServer();
    if (pgName) {
      const c = new pg.Client({ connectionString: PG_ADMIN });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
      await c.end();
    }
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('init creates the PKI and the first Security Administrator offline', () => {
    const r = ok(
      enclave([
        'init',
        '--data',
        dataDir,
        ...(dbUrl ? ['--db', dbUrl] : []),
        '--org',
        'Acme Corp',
        '--admin-email',
        'sec@example.com',
        '--admin-password-file',
        passwordFile,
        '--json',
      ]),
    );
    caFingerprint = r.json.caFingerprint;
    assert.match(caFingerprint, /^[0-9a-f]{64}$/);
    const again = enclave([
      'init',
      '--data',
      dataDir,
      ...(dbUrl ? ['--db', dbUrl] : []),
      '--org',
      'Acme Corp',
      '--admin-email',
      'x@example.com',
      '--admin-password-file',
      passwordFile,
      '--json',
    ]);
    assert.notEqual(again.code, 0, 'a second init is refused');
    assert.equal(again.stderr.trim().split('\n').length, 1, 'with one line');
  });

  it('the server starts on the same installation and prints the URL and the CA fingerprint', async () => {
    ({ url } = await startServer());
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const log = fs.readFileSync(serverLog, 'utf8');
    assert.ok(log.includes(caFingerprint));
  });

  it('login refuses a wrong CA fingerprint and a wrong password, and signs in with the right ones', () => {
    const wrongCa = enclave([
      'login',
      '--server',
      url,
      '--email',
      'sec@example.com',
      '--password-file',
      passwordFile,
      '--ca-fingerprint',
      'ab'.repeat(32),
      '--json',
    ]);
    assert.notEqual(wrongCa.code, 0);
    const badPw = path.join(work, 'bad-password');
    fs.writeFileSync(badPw, 'not the passphrase at all');
    const wrongPw = enclave([
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
      enclave([
        'login',
        '--server',
        url,
        '--email',
        'sec@example.com',
        '--password-file',
        passwordFile,
        '--ca-fingerprint',
        caFingerprint,
        '--json',
      ]),
    );
    assert.equal(r.json.role, 'security-admin');
  });

  it('enrols TOTP, then login needs the code (checked with oathtool)', () => {
    const enrol = ok(enclave(['account', 'totp', 'enroll', '--json']));
    const secret = enrol.json.secret as string;
    ok(enclave(['account', 'totp', 'confirm', '--code', totp(secret), '--json']));
    ok(enclave(['logout', '--json']));
    const without = enclave([
      'login',
      '--server',
      url,
      '--email',
      'sec@example.com',
      '--password-file',
      passwordFile,
      '--ca-fingerprint',
      caFingerprint,
      '--json',
    ]);
    assert.notEqual(without.code, 0);
    assert.match(without.stderr, /totp_required/);
    const r = ok(
      enclave([
        'login',
        '--server',
        url,
        '--email',
        'sec@example.com',
        '--password-file',
        passwordFile,
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
      enclave(['users', 'add', '--email', 'alice@example.com', '--name', 'Alice Example', '--json']),
    );
    assert.equal(u.json.email, 'alice@example.com');
    const a = ok(
      enclave(['activation', 'create', '--email', 'alice@example.com', '--expires', '24h', '--json']),
    );
    activationPassword = a.json.password;
    assert.ok(activationPassword.length >= 20);
    assert.equal(JSON.parse(a.json.qr).password, activationPassword);
    assert.ok(Date.parse(a.json.expiresAt) - Date.now() > 23 * 3600_000);
  });

  it('a wrong activation password is rejected', () => {
    const r = enclave([
      'device',
      'activate',
      '--server',
      url,
      '--email',
      'alice@example.com',
      '--activation-password',
      'AAAA-BBBB-CCCC-DDDD-EEEE',
      '--dir',
      path.join(work, 'wrong'),
      '--json',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /activation_password_wrong/);
  });

  it('the device activates, and openssl verifies its certificate against the CA chain it stored', () => {
    const r = ok(
      enclave([
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
    const list = ok(enclave(['devices', 'list', '--json']));
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
    const sync = ok(enclave(['device', 'sync', '--dir', deviceDir, '--json']));
    assert.equal(sync.json.status, 'active');
  });

  it('the activation password appears nowhere in the data directory, the database or the server log', async () => {
    const needle = activationPassword;
    for (const f of filesUnder(dataDir)) assert.ok(!fs.readFileSync(f).includes(needle), `found in ${f}`);
    assert.ok(!(await databaseText()).includes(needle), 'found in the database');
    assert.ok(!fs.readFileSync(serverLog, 'utf8').includes(needle), 'found in the server log');
  });

  it('no file in the data directory holds an unencrypted private key', () => {
    for (const f of filesUnder(dataDir)) {
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
    const cmd = ok(enclave(['devices', 'command', deviceId, 'revoke', '--json']));
    assert.equal(cmd.json.state, 'done');
    const sync = enclave(['device', 'sync', '--dir', deviceDir, '--json']);
    assert.notEqual(sync.code, 0);
    assert.match(sync.stderr, /device_revoked/);
    const crl = await fetchText(`${url}/api/v1/pki/crl`, path.join(deviceDir, 'ca.pem'));
    const crlFile = path.join(work, 'crl.pem');
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
    const show = ok(enclave(['devices', 'show', deviceId, '--json']));
    assert.deepEqual(
      show.json.commands.map((c: { type: string; state: string }) => [c.type, c.state]),
      [['revoke', 'done']],
    );
  });

  it('audit verify passes, then fails naming the row edited with a database client', async () => {
    const good = ok(enclave(['audit', 'verify', '--json']));
    assert.equal(good.json.ok, true);
    assert.ok(good.json.entries > 5);
    await tamperAudit("UPDATE audit_log SET target = 'mallory@example.com' WHERE seq = 4");
    const bad = enclave(['audit', 'verify', '--json']);
    assert.notEqual(bad.code, 0);
    assert.equal(bad.json.ok, false);
    assert.equal(bad.json.firstBadSeq, 4);
    assert.match(bad.stderr, /4/);
  });

  it('a wrong KEK stops the server with one line and a non-zero exit; the right one restarts it', async () => {
    await stopServer();
    const wrong = spawnSync(
      process.execPath,
      [BIN, 'server', '--data', dataDir, '--listen', '127.0.0.1:0', ...(dbUrl ? ['--db', dbUrl] : [])],
      {
        env: { ...process.env, ENCLAVE_KEK: `${KEK}x` },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.notEqual(wrong.status, 0);
    assert.equal(wrong.stderr.trim().split('\n').length, 1, wrong.stderr);
    assert.match(wrong.stderr, /key-encryption key/);
    const { ms } = await startServer();
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
