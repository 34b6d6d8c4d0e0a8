import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { activationChannel } from './channel.js';
import { deriveKey, deriveWrappingKey, open, seal, SealOpenError } from './aead.js';

describe('seal / open (AES-256-GCM)', () => {
  const key = randomBytes(32);

  it('round-trips a value bound to its context', () => {
    const box = seal(key, Buffer.from('root CA private key'), 'keystore:root-ca');
    assert.equal(open(key, box, 'keystore:root-ca').toString(), 'root CA private key');
    assert.ok(!box.includes(Buffer.from('root CA private key')), 'ciphertext must not contain the plaintext');
  });

  it('refuses a wrong key, a wrong context and a flipped bit', () => {
    const box = seal(key, Buffer.from('secret'), 'a');
    assert.throws(() => open(randomBytes(32), box, 'a'), SealOpenError);
    assert.throws(() => open(key, box, 'b'), SealOpenError);
    const tampered = Buffer.from(box);
    tampered[14] = (tampered[14] ?? 0) ^ 1;
    assert.throws(() => open(key, tampered, 'a'), SealOpenError);
    assert.throws(() => open(key, Buffer.alloc(5), 'a'), SealOpenError);
  });

  it('rejects keys of the wrong length', () => {
    assert.throws(() => seal(randomBytes(16), Buffer.from('x'), 'a'), TypeError);
  });
});

describe('deriveWrappingKey (scrypt)', () => {
  it('is deterministic for a KEK and salt, and differs for another KEK', () => {
    const salt = randomBytes(16);
    const a = deriveWrappingKey('a'.repeat(32), salt);
    assert.deepEqual(a, deriveWrappingKey('a'.repeat(32), salt));
    assert.notDeepEqual(a, deriveWrappingKey('b'.repeat(32), salt));
  });

  it('refuses a short KEK', () => {
    assert.throws(() => deriveWrappingKey('short', randomBytes(16)), /at least 16/);
  });
});

describe('HKDF (RFC 5869)', () => {
  it('matches RFC 5869 A.3 (no salt, no info) for the first 32 bytes', () => {
    const ikm = Buffer.from('0b'.repeat(22), 'hex');
    assert.equal(
      deriveKey(ikm, '').toString('hex'),
      '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d',
    );
  });
});

describe('activationChannel', () => {
  it('lets each side read what the other sealed, and nothing else', () => {
    const sk = randomBytes(64).toString('base64url');
    const device = activationChannel(sk, 'attempt-1');
    const server = activationChannel(sk, 'attempt-1');
    assert.deepEqual(server.openFromDevice(device.sealToServer({ csr: 'x' })), { csr: 'x' });
    assert.deepEqual(device.openFromServer(server.sealToDevice({ chain: ['y'] })), { chain: ['y'] });
    // A message cannot be reflected back to its sender, nor moved to another attempt.
    assert.throws(() => device.openFromServer(device.sealToServer({ a: 1 })), SealOpenError);
    assert.throws(
      () => activationChannel(sk, 'attempt-2').openFromDevice(device.sealToServer({ a: 1 })),
      SealOpenError,
    );
    assert.throws(
      () =>
        activationChannel(randomBytes(64).toString('base64url'), 'attempt-1').openFromDevice(
          device.sealToServer({ a: 1 }),
        ),
      SealOpenError,
    );
  });
});
