import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createFakeServer, type FakeServer } from '@enclave/client/testing';
import { saveSession } from './lib/session-store.js';
import { fakeContext, routeTransport, runCli } from './testing/fake-context.js';

const SERVER = 'https://enclave.test:8443';
const now = '2025-06-01T12:00:00.000Z';
const admin = {
  id: '00000000-0000-4000-8000-000000000001',
  email: 'sec@example.com',
  role: 'security-admin',
  totpEnabled: false,
  createdAt: now,
};

let tmp: string;
let fake: FakeServer;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'enclave-cli-'));
  fake = await createFakeServer({ email: 'alice@example.com', passwords: ['ABCD-EFGH-JKLM'] });
});
after(async () => rm(tmp, { recursive: true, force: true }));

function chain(): string[] {
  return [fake.issuing.certificate.toString('pem'), fake.root.certificate.toString('pem')];
}

async function loggedIn(name: string): Promise<string> {
  const dir = join(tmp, name);
  await saveSession(dir, {
    server: SERVER,
    token: 'tok-secret',
    caPem: chain().join('\n'),
    caFingerprint: fake.caFingerprint,
    email: admin.email,
    role: 'security-admin',
    expiresAt: now,
  });
  return dir;
}

function assertOneErrorLine(stderr: string, code: string): void {
  const lines = stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, stderr);
  assert.match(lines[0] ?? '', new RegExp(`^error: .+ \\(${code}\\)$`));
}

describe('enclave (general behaviour)', () => {
  it('prints help and the version with exit 0', async () => {
    const f = fakeContext();
    const help = await runCli(f, '--help');
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: enclave/);
    assert.equal((await runCli(f, '--version')).code, 0);
  });

  it('fails with one stderr line and a JSON error document when not logged in', async () => {
    const f = fakeContext({ env: { ENCLAVE_CONFIG: join(tmp, 'empty') } });
    const r = await runCli(f, 'users', 'list', '--json');
    assert.equal(r.code, 1);
    assert.equal((r.json().error as { code: string }).code, 'not_logged_in');
    assertOneErrorLine(r.stderr, 'not_logged_in');
    assert.match(r.stderr, /run `enclave login/);
  });

  it('reports unknown options and bad flag values as usage errors', async () => {
    const f = fakeContext();
    const r = await runCli(f, 'users', 'list', '--bogus');
    assert.equal(r.code, 1);
    assertOneErrorLine(r.stderr, 'usage_error');
    assert.equal(r.stdout, '');
    const ttl = await runCli(
      f,
      'activation',
      'create',
      '--email',
      'a@example.com',
      '--expires',
      '5s',
      '--json',
    );
    assert.equal(ttl.code, 1);
    assert.match(ttl.stderr, /--expires must be between 1m and 30d/);
    assert.deepEqual(f.transports, []); // nothing reached the network
  });

  it('validates ids before calling the server', async () => {
    const f = fakeContext();
    const r = await runCli(f, 'devices', 'command', 'not-a-uuid', 'lock', '--config', await loggedIn('ids'));
    assert.equal(r.code, 1);
    assertOneErrorLine(r.stderr, 'usage_error');
    const t = await runCli(f, 'devices', 'command', admin.id, 'explode', '--config', await loggedIn('ids2'));
    assert.match(t.stderr, /command type/);
  });
});

describe('enclave login', () => {
  const routes = () =>
    routeTransport({
      'GET /api/v1/pki/ca': () => [
        200,
        { caFingerprint: fake.caFingerprint, chain: chain(), organization: 'Test Org' },
      ],
      'POST /api/v1/auth/login': () => [200, { token: 'tok-secret', csrfToken: 'c', expiresAt: now, admin }],
    });

  it('trusts on first use with a warning, pins the CA, and saves a 0600 session without printing the token', async () => {
    const pw = join(tmp, 'pw');
    await writeFile(pw, 'correct horse battery\n');
    const t = routes();
    const f = fakeContext({ transport: () => t });
    const config = join(tmp, 'login1');
    const r = await runCli(
      f,
      'login',
      '--server',
      `${SERVER}/`,
      '--email',
      admin.email,
      '--password-file',
      pw,
      '--config',
      config,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json(), {
      email: admin.email,
      role: 'security-admin',
      server: SERVER,
      caFingerprint: fake.caFingerprint,
      expiresAt: now,
    });
    assert.match(
      r.stderr,
      /^warning: trusting https:\/\/enclave\.test:8443 on first use: enterprise CA fingerprint [0-9a-f]{64}/,
    );
    assert.ok(!r.stdout.includes('tok-secret'));
    assert.equal(f.transports[0]?.insecure, true);
    assert.match(f.transports[1]?.ca ?? '', /BEGIN CERTIFICATE/);
    assert.equal(f.transports[1]?.insecure, undefined);
    const session = z
      .object({ token: z.string(), caPem: z.string() })
      .parse(JSON.parse(await readFile(join(config, 'session.json'), 'utf8')));
    assert.equal(session.token, 'tok-secret');
    assert.equal((await stat(join(config, 'session.json'))).mode & 0o777, 0o600);
    assert.equal((await stat(config)).mode & 0o777, 0o700);
  });

  it('accepts a matching --ca-fingerprint silently and refuses a different one', async () => {
    const pw = join(tmp, 'pw');
    await writeFile(pw, 'correct horse battery\n');
    const f = fakeContext({ transport: () => routes() });
    const config = join(tmp, 'login2');
    const ok = await runCli(
      f,
      'login',
      '--server',
      SERVER,
      '--email',
      admin.email,
      '--password-file',
      pw,
      '--config',
      config,
      '--ca-fingerprint',
      fake.caFingerprint.toUpperCase(),
    );
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, '');
    const bad = await runCli(
      f,
      'login',
      '--server',
      SERVER,
      '--email',
      admin.email,
      '--password-file',
      pw,
      '--config',
      config,
      '--ca-fingerprint',
      '00'.repeat(32),
      '--json',
    );
    assert.equal(bad.code, 1);
    assertOneErrorLine(bad.stderr, 'server_untrusted');
    assert.equal((bad.json().error as { code: string }).code, 'server_untrusted');
  });

  it('refuses a server whose CA changed since the last login', async () => {
    const other = await createFakeServer({ email: 'x@example.com', passwords: ['x'] });
    const pw = join(tmp, 'pw');
    await writeFile(pw, 'correct horse battery\n');
    const config = await loggedIn('login3');
    const t = routeTransport({
      'GET /api/v1/pki/ca': () => [
        200,
        {
          caFingerprint: other.caFingerprint,
          chain: [other.issuing.certificate.toString('pem'), other.root.certificate.toString('pem')],
          organization: 'X',
        },
      ],
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'login',
      '--server',
      SERVER,
      '--email',
      admin.email,
      '--password-file',
      pw,
      '--config',
      config,
    );
    assert.equal(r.code, 1);
    assertOneErrorLine(r.stderr, 'server_untrusted');
    assert.match(r.stderr, /changed since the last login/);
  });

  it('explains a missing password file', async () => {
    const r = await runCli(
      fakeContext({ transport: () => routes() }),
      'login',
      '--server',
      SERVER,
      '--email',
      admin.email,
      '--password-file',
      join(tmp, 'nope'),
    );
    assert.equal(r.code, 1);
    assertOneErrorLine(r.stderr, 'file_unreadable');
  });
});

describe('admin commands on a saved session', () => {
  it('sends the saved token, pinned to the saved CA', async () => {
    const t = routeTransport({
      'GET /api/v1/users': () => [200, { items: [], total: 0, limit: 50, offset: 0 }],
    });
    const f = fakeContext({ transport: () => t });
    const r = await runCli(
      f,
      'users',
      'list',
      '--search',
      'al',
      '--config',
      await loggedIn('users'),
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.json(), { items: [], total: 0, limit: 50, offset: 0 });
    assert.equal(t.seen[0]?.headers.authorization, 'Bearer tok-secret');
    assert.match(t.seen[0]?.path ?? '', /q=al/);
    assert.match(f.transports[0]?.ca ?? '', /BEGIN CERTIFICATE/);
  });

  it('audit verify exits 1 on a broken chain and names the first bad entry', async () => {
    const t = routeTransport({
      'GET /api/v1/audit/verify': () => [
        200,
        { ok: false, entries: 12, firstBadSeq: 7, reason: 'hash mismatch' },
      ],
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'audit',
      'verify',
      '--config',
      await loggedIn('audit'),
      '--json',
    );
    assert.equal(r.code, 1);
    const doc = r.json();
    assert.equal(doc.ok, false);
    assert.equal(doc.firstBadSeq, 7);
    assert.equal((doc.error as { code: string }).code, 'audit_chain_broken');
    assertOneErrorLine(r.stderr, 'audit_chain_broken');
    assert.match(r.stderr, /entry #7: hash mismatch/);
  });

  it('audit verify exits 0 on an intact chain', async () => {
    const t = routeTransport({
      'GET /api/v1/audit/verify': () => [200, { ok: true, entries: 12, firstBadSeq: null, reason: null }],
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'audit',
      'verify',
      '--config',
      await loggedIn('audit2'),
    );
    assert.equal(r.code, 0);
    assert.match(r.stdout, /12 entries verified/);
  });

  it('adds the re-login hint to an expired session', async () => {
    const t = routeTransport({
      'GET /api/v1/auth/me': () => [
        401,
        { error: { code: 'session_expired', message: 'the session expired' } },
      ],
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'whoami',
      '--config',
      await loggedIn('expired'),
    );
    assertOneErrorLine(r.stderr, 'session_expired');
    assert.match(
      r.stderr,
      /run `enclave login --server https:\/\/enclave\.test:8443 --email sec@example\.com/,
    );
  });
});

describe('enclave device', () => {
  it('activates from a QR payload, then syncs, then reports revocation', async () => {
    const server = await createFakeServer({ email: 'alice@example.com', passwords: ['ABCD-EFGH-JKLM'] });
    const f = fakeContext({
      transport: () => server.transport,
      env: { ENCLAVE_DEVICE_PASSPHRASE: 'device pass' },
    });
    const dir = join(tmp, 'phone');
    const qr = JSON.stringify({
      v: 1,
      server: SERVER,
      email: 'alice@example.com',
      password: 'ABCD-EFGH-JKLM',
      caFingerprint: server.caFingerprint,
    });
    const act = await runCli(
      f,
      'device',
      'activate',
      '--qr',
      qr,
      '--dir',
      dir,
      '--platform',
      'test-os',
      '--json',
    );
    assert.equal(act.code, 0, act.stderr);
    const out = act.json();
    assert.equal(out.userEmail, 'alice@example.com');
    assert.equal(out.caFingerprint, server.caFingerprint);
    assert.equal(out.certificatePath, join(dir, 'device.pem'));
    assert.equal(out.caPath, join(dir, 'ca.pem'));
    assert.equal(f.transports[0]?.insecure, true);
    assert.match(await readFile(join(dir, 'device.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/);
    const record = JSON.parse(await readFile(join(dir, 'device.json'), 'utf8')) as Record<string, string>;
    assert.equal(record.platform, 'test-os');
    assert.equal(record.server, SERVER);

    const again = await runCli(f, 'device', 'activate', '--qr', qr, '--dir', dir);
    assertOneErrorLine(again.stderr, 'device_dir_exists');

    const sync = await runCli(f, 'device', 'sync', '--dir', dir, '--json');
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(Object.keys(sync.json()).sort(), [
      'commands',
      'compliance',
      'complianceReasons',
      'deviceId',
      'policy',
      'status',
      'userEmail',
    ]);
    assert.match(f.transports.at(-1)?.ca ?? '', /BEGIN CERTIFICATE/);

    const entry = server.devices.get(String(out.deviceId));
    assert.ok(entry);
    entry.revoked = true;
    const revoked = await runCli(f, 'device', 'sync', '--dir', dir, '--json');
    assert.equal(revoked.code, 1);
    assertOneErrorLine(revoked.stderr, 'device_revoked');
  });

  it('rejects a flag that contradicts the QR payload, and a missing password', async () => {
    const f = fakeContext();
    const qr = JSON.stringify({
      v: 1,
      server: SERVER,
      email: 'alice@example.com',
      password: 'P',
      caFingerprint: 'ab'.repeat(32),
    });
    const r = await runCli(
      f,
      'device',
      'activate',
      '--qr',
      qr,
      '--ca-fingerprint',
      'cd'.repeat(32),
      '--dir',
      join(tmp, 'x'),
    );
    assertOneErrorLine(r.stderr, 'usage_error');
    const m = await runCli(
      f,
      'device',
      'activate',
      '--server',
      SERVER,
      '--email',
      'a@example.com',
      '--dir',
      join(tmp, 'y'),
    );
    assert.match(m.stderr, /missing --activation-password/);
    assert.deepEqual(f.transports, []);
  });
});

describe('enclave init / server', () => {
  it('passes the options to runServer and lets the server print its ready line', async () => {
    let seen: unknown;
    let closed = false;
    const f = fakeContext({
      loadServerModule: () =>
        Promise.resolve({
          initEnclave: () => Promise.resolve({}),
          runServer: (opts: unknown, print: (l: string) => void) => {
            seen = opts;
            print(JSON.stringify({ event: 'ready', url: 'https://127.0.0.1:8443', caFingerprint: 'ab' }));
            return Promise.resolve({
              url: 'https://127.0.0.1:8443',
              caFingerprint: 'ab',
              close: () => Promise.resolve(void (closed = true)),
            });
          },
        }),
    });
    const r = await runCli(
      f,
      'server',
      '--data',
      'd',
      '--listen',
      '127.0.0.1:8443',
      '--nats',
      'nats://n:4222',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.json().event, 'ready');
    assert.deepEqual(Object.keys(seen as object).sort(), ['dataDir', 'json', 'listen', 'natsUrl']);
    assert.ok(closed);
  });

  it('maps server validation errors to the flag, and a missing server package to server_unavailable', async () => {
    const pw = join(tmp, 'adminpw');
    await writeFile(pw, 'long enough password\n');
    const f = fakeContext({
      loadServerModule: () =>
        Promise.resolve({
          // Rejects with the ZodError the server's own option parsing would throw.
          initEnclave: () =>
            Promise.resolve().then(() =>
              z.object({ organization: z.string().min(5) }).parse({ organization: 'x' }),
            ),
          runServer: () => Promise.resolve({}),
        }),
    });
    const r = await runCli(
      f,
      'init',
      '--data',
      'd',
      '--org',
      'x',
      '--admin-email',
      'a@example.com',
      '--admin-password-file',
      pw,
    );
    assertOneErrorLine(r.stderr, 'usage_error');
    assert.match(r.stderr, /^error: --org: /);
    const missing = await runCli(fakeContext(), 'server', '--data', 'd', '--json');
    assert.equal(missing.code, 1);
    assertOneErrorLine(missing.stderr, 'server_unavailable');
  });
});
