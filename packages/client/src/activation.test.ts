import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { webcrypto } from 'node:crypto';
import { parseCertificate } from '@enclave/crypto';
import { activateDevice, parseActivationQr } from './activation.js';
import { ApiError } from './transport.js';
import { createFakeServer } from './testing/fake-server.js';

const email = 'alice@example.com';
const base = { email, platform: 'node-test', clientVersion: '0.0.0-test' };

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ApiError, `expected ApiError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

describe('activateDevice', () => {
  it('activates with the password of the second of two live records and verifies the grant', async () => {
    const server = await createFakeServer({ email, passwords: ['first-password-1', 'second-password-2'] });
    const device = await activateDevice({
      ...base,
      transport: server.transport,
      activationPassword: 'second-password-2',
      expectedCaFingerprint: server.caFingerprint.toUpperCase(),
    });
    assert.equal(device.caFingerprint, server.caFingerprint);
    assert.equal(device.userEmail, email);
    assert.equal(device.chainPem.length, 2);
    const cert = parseCertificate(device.certificatePem);
    const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', device.keyPair.publicKey));
    assert.ok(spki.equals(Buffer.from(cert.publicKey.rawData)));
    const finish = server.calls.find((c) => c.path === '/api/v1/activation/finish');
    assert.equal((finish?.body as { index: number }).index, 1);
    // The password itself never appears in any request.
    assert.ok(!JSON.stringify(server.calls).includes('second-password-2'));
  });

  it('aborts and surfaces the server error when no record opens', async () => {
    const server = await createFakeServer({ email, passwords: ['right-password-1'] });
    await rejectsWithCode(
      activateDevice({ ...base, transport: server.transport, activationPassword: 'wrong-password-1' }),
      'activation_password_wrong',
    );
    assert.ok(server.calls.some((c) => c.path === '/api/v1/activation/abort'));
    assert.ok(!server.calls.some((c) => c.path === '/api/v1/activation/finish'));
  });

  it('rejects a CA that does not match the operator-given fingerprint', async () => {
    const server = await createFakeServer({ email, passwords: ['right-password-1'] });
    await rejectsWithCode(
      activateDevice({
        ...base,
        transport: server.transport,
        activationPassword: 'right-password-1',
        expectedCaFingerprint: '00'.repeat(32),
      }),
      'server_untrusted',
    );
  });

  it('rejects a grant whose fingerprint disagrees with its chain', async () => {
    const server = await createFakeServer({
      email,
      passwords: ['right-password-1'],
      tamper: 'wrong-fingerprint',
    });
    await rejectsWithCode(
      activateDevice({ ...base, transport: server.transport, activationPassword: 'right-password-1' }),
      'server_untrusted',
    );
  });

  it("rejects a certificate for somebody else's key", async () => {
    const server = await createFakeServer({ email, passwords: ['right-password-1'], tamper: 'foreign-key' });
    await rejectsWithCode(
      activateDevice({ ...base, transport: server.transport, activationPassword: 'right-password-1' }),
      'certificate_invalid',
    );
  });

  it('rejects an answer not sealed under the session key', async () => {
    const server = await createFakeServer({ email, passwords: ['right-password-1'], tamper: 'garbage-seal' });
    await rejectsWithCode(
      activateDevice({ ...base, transport: server.transport, activationPassword: 'right-password-1' }),
      'server_untrusted',
    );
  });
});

describe('parseActivationQr', () => {
  const payload = {
    v: 1,
    server: 'https://enclave.example:8443',
    email,
    password: 'abcd-efgh',
    caFingerprint: 'ab'.repeat(32),
  };

  it('parses a valid payload', () => {
    assert.deepEqual(parseActivationQr(JSON.stringify(payload)), payload);
  });

  it('rejects text that is not JSON', () => {
    assert.throws(
      () => parseActivationQr('not json'),
      (e: unknown) => e instanceof ApiError && e.code === 'validation_failed',
    );
  });

  it('rejects JSON of another shape or version', () => {
    assert.throws(
      () => parseActivationQr(JSON.stringify({ ...payload, v: 2 })),
      /not an Enclave activation code/,
    );
    assert.throws(
      () => parseActivationQr(JSON.stringify({ server: 'x' })),
      (e: unknown) => e instanceof ApiError && e.code === 'validation_failed',
    );
  });
});
