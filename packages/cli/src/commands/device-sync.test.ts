import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFakeServer, type FakeServer } from '@enclave/client/testing';
import { fakeContext, runCli } from '../testing/fake-context.js';
import { CLI_VERSION } from '../version.js';

const SERVER = 'https://enclave.test:8443';

describe('enclave device sync (posture)', () => {
  let tmp: string;
  let server: FakeServer;
  let f: ReturnType<typeof fakeContext>;
  let dir: string;
  const postureCalls = () => server.calls.filter((c) => c.path === '/api/v1/device/posture');

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'enclave-sync-'));
    server = await createFakeServer({ email: 'alice@example.com', passwords: ['ABCD-EFGH-JKLM'] });
    f = fakeContext({ transport: () => server.transport, env: { ENCLAVE_DEVICE_PASSPHRASE: 'device pass' } });
    dir = join(tmp, 'phone');
    const qr = JSON.stringify({
      v: 1,
      server: SERVER,
      email: 'alice@example.com',
      password: 'ABCD-EFGH-JKLM',
      caFingerprint: server.caFingerprint,
    });
    const act = await runCli(f, 'device', 'activate', '--qr', qr, '--dir', dir, '--platform', 'test-os');
    assert.equal(act.code, 0, act.stderr);
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('sends no posture report without posture flags', async () => {
    const r = await runCli(f, 'device', 'sync', '--dir', dir, '--json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(postureCalls().length, 0);
  });

  it('builds the report from flags and prints the resulting compliance and reasons', async () => {
    const r = await runCli(
      f,
      'device',
      'sync',
      '--dir',
      dir,
      '--os-version',
      '17.4',
      '--no-passcode',
      '--encrypted',
    );
    assert.equal(r.code, 0, r.stderr);
    const { clientVersion, ...sent } = postureCalls().at(-1)?.body as Record<string, unknown>;
    assert.equal(clientVersion, CLI_VERSION); // the version the device was activated with
    assert.deepEqual(sent, {
      platform: 'test-os',
      passcodeSet: false,
      storageEncrypted: true,
      rooted: false,
      osVersion: '17.4',
    });
    assert.match(r.stdout, /passcode_not_set/);
  });

  it('reads a posture file, with flags overriding it', async () => {
    const file = join(tmp, 'posture.json');
    await writeFile(
      file,
      JSON.stringify({
        platform: 'ios',
        osVersion: '16.0',
        clientVersion: '2.0.0',
        passcodeSet: false,
        storageEncrypted: true,
        rooted: true,
      }),
    );
    const r = await runCli(
      f,
      'device',
      'sync',
      '--dir',
      dir,
      '--posture-file',
      file,
      '--passcode-set',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(postureCalls().at(-1)?.body, {
      platform: 'ios',
      osVersion: '16.0',
      clientVersion: '2.0.0',
      passcodeSet: true,
      storageEncrypted: true,
      rooted: true,
    });
    assert.equal(r.json().messagingBlocked, false);
  });

  it('refuses an invalid report before calling the server', async () => {
    const before = postureCalls().length;
    const r = await runCli(f, 'device', 'sync', '--dir', dir, '--os-version', 'seventeen');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /osVersion/);
    assert.equal(postureCalls().length, before);
  });
});
