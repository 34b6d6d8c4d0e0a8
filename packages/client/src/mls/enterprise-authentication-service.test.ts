import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { exportPkcs8, generateEd25519, type x509 } from '@enclave/crypto';
import type { Credential } from 'ts-mls';
import { ed25519SeedFromPkcs8, loadDeviceSigningIdentity } from './device-signing-identity.js';
import {
  CredentialRejectedError,
  EnterpriseAuthenticationService,
} from './enterprise-authentication-service.js';
import { ed25519PublicKeyOf } from './enterprise-credential.js';
import {
  createTestEnterprise,
  issueTestDevice,
  selfSignedDeviceCertificate,
  type TestDevice,
  type TestEnterprise,
} from './test-support/enterprise-fixture.js';

const der = (c: x509.X509Certificate) => new Uint8Array(c.rawData);
const cred = (...certs: x509.X509Certificate[]): Credential => ({
  credentialType: 'x509',
  certificates: certs.map(der),
});
const reason = (r: string) => (err: unknown) => err instanceof CredentialRejectedError && err.reason === r;
const DAY = 86_400_000;

describe('EnterpriseAuthenticationService', () => {
  let acme: TestEnterprise;
  let other: TestEnterprise;
  let alice: TestDevice;
  let as: EnterpriseAuthenticationService;
  const key = (d: TestDevice) => ed25519PublicKeyOf(d.certificate);

  before(async () => {
    acme = await createTestEnterprise('Acme');
    other = await createTestEnterprise('Other Corp');
    alice = await issueTestDevice(acme, { deviceId: 'dev-alice', email: 'Alice@Acme.test' });
    as = new EnterpriseAuthenticationService(acme.trust);
  });

  it('accepts a device certificate chain to the enterprise root and names the device and user', async () => {
    const who = await as.verify(cred(alice.certificate, acme.issuing.certificate), key(alice));
    assert.equal(who.deviceId, 'dev-alice');
    assert.equal(who.email, 'alice@acme.test');
    assert.equal(who.userId, 'user-Alice@Acme.test');
    assert.equal(who.serialNumber, alice.certificate.serialNumber.toLowerCase());
    assert.match(who.certificateFingerprint, /^[0-9a-f]{64}$/);
    // The root may ride along, but only the pinned one.
    await as.verify(cred(alice.certificate, acme.issuing.certificate, acme.root.certificate), key(alice));
    assert.equal(
      await as.validateCredential(cred(alice.certificate, acme.issuing.certificate), key(alice)),
      true,
    );
  });

  it('refuses a basic credential and a certificate whose key is not the leaf signature key', async () => {
    await assert.rejects(
      as.verify({ credentialType: 'basic', identity: new Uint8Array([1]) }, key(alice)),
      reason('not_x509'),
    );
    const bob = await issueTestDevice(acme, { deviceId: 'dev-bob', email: 'bob@acme.test' });
    await assert.rejects(
      as.verify(cred(alice.certificate, acme.issuing.certificate), key(bob)),
      reason('key_mismatch'),
    );
    assert.equal(
      await as.validateCredential(cred(alice.certificate, acme.issuing.certificate), key(bob)),
      false,
    );
    assert.equal(as.lastRejection?.reason, 'key_mismatch');
  });

  it('refuses a self-signed device certificate', async () => {
    const keys = await generateEd25519();
    const self = await selfSignedDeviceCertificate(keys, 'dev-eve', 'eve@acme.test');
    const pub = ed25519PublicKeyOf(self);
    await assert.rejects(as.verify(cred(self), pub), reason('untrusted_chain'));
    await assert.rejects(as.verify(cred(self, acme.issuing.certificate), pub), reason('untrusted_chain'));
  });

  it('refuses a device of another enterprise, even with its own root appended', async () => {
    const eve = await issueTestDevice(other, { deviceId: 'dev-eve', email: 'eve@other.test' });
    await assert.rejects(
      as.verify(cred(eve.certificate, other.issuing.certificate), key(eve)),
      reason('untrusted_chain'),
    );
    await assert.rejects(
      as.verify(cred(eve.certificate, other.issuing.certificate, other.root.certificate), key(eve)),
      reason('untrusted_chain'),
    );
    // Another enterprise's issuing CA cannot vouch for an Acme-named chain either.
    await assert.rejects(
      as.verify(cred(alice.certificate, other.issuing.certificate), key(alice)),
      reason('untrusted_chain'),
    );
  });

  it('refuses a revoked device certificate', async () => {
    const mallory = await issueTestDevice(acme, { deviceId: 'dev-mallory', email: 'mallory@acme.test' });
    const c = cred(mallory.certificate, acme.issuing.certificate);
    await as.verify(c, key(mallory));
    acme.revoked.add(mallory.certificate.serialNumber.toLowerCase());
    await assert.rejects(as.verify(c, key(mallory)), reason('revoked'));
  });

  it('refuses certificates outside their validity period', async () => {
    const c = cred(alice.certificate, acme.issuing.certificate);
    const later = new EnterpriseAuthenticationService({
      ...acme.trust,
      now: () => new Date(Date.now() + 400 * DAY),
    });
    await assert.rejects(later.verify(c, key(alice)), reason('expired'));
    const earlier = new EnterpriseAuthenticationService({
      ...acme.trust,
      now: () => new Date(Date.now() - DAY),
    });
    await assert.rejects(earlier.verify(c, key(alice)), reason('not_yet_valid'));
  });

  it('refuses a CA certificate as a device credential and a device certificate as an issuer', async () => {
    const bob = await issueTestDevice(acme, { deviceId: 'dev-bob2', email: 'bob@acme.test' });
    await assert.rejects(
      as.verify(cred(alice.certificate, bob.certificate, acme.issuing.certificate), key(alice)),
      reason('not_a_ca'),
    );
    const issuingKey = ed25519PublicKeyOf(acme.issuing.certificate);
    await assert.rejects(as.verify(cred(acme.issuing.certificate), issuingKey), reason('malformed'));
  });

  it('accepts a successor credential only for the same user and device (RFC 9420 §5.3.1)', async () => {
    const renewed = await issueTestDevice(acme, {
      deviceId: 'dev-alice',
      email: 'alice@acme.test',
      keys: alice.keys,
    });
    const otherUser = await issueTestDevice(acme, {
      deviceId: 'dev-alice',
      email: 'mallory@acme.test',
      keys: alice.keys,
    });
    const otherDevice = await issueTestDevice(acme, {
      deviceId: 'dev-alice-2',
      email: 'alice@acme.test',
      keys: alice.keys,
    });
    const old = cred(alice.certificate, acme.issuing.certificate);
    assert.equal(as.isValidSuccessor(old, cred(renewed.certificate, acme.issuing.certificate)), true);
    assert.equal(as.isValidSuccessor(old, cred(otherUser.certificate, acme.issuing.certificate)), false);
    assert.equal(as.isValidSuccessor(old, cred(otherDevice.certificate, acme.issuing.certificate)), false);
  });
});

describe('device signing identity', () => {
  it('takes the Ed25519 seed from PKCS#8 (RFC 8410 §7) and checks it against the certificate', async () => {
    const acme = await createTestEnterprise('Acme');
    const d = await issueTestDevice(acme, { deviceId: 'dev-1', email: 'a@acme.test' });
    const jwk = createPrivateKey({
      key: Buffer.from(d.privateKeyPkcs8),
      format: 'der',
      type: 'pkcs8',
    }).export({ format: 'jwk' });
    assert.deepEqual(Buffer.from(ed25519SeedFromPkcs8(d.privateKeyPkcs8)).toString('base64url'), jwk.d);
    const id = await loadDeviceSigningIdentity({
      privateKeyPkcs8: d.privateKeyPkcs8,
      certificateChain: d.chain,
    });
    assert.deepEqual(id.publicKey, ed25519PublicKeyOf(d.certificate));
    assert.equal(id.credential.certificates.length, 2);
    assert.equal(id.identity.deviceId, 'dev-1');

    const wrongKey = new Uint8Array(await exportPkcs8((await generateEd25519()).privateKey));
    await assert.rejects(
      loadDeviceSigningIdentity({ privateKeyPkcs8: wrongKey, certificateChain: d.chain }),
      /does not match/,
    );
    await assert.rejects(
      loadDeviceSigningIdentity({ privateKeyPkcs8: d.privateKeyPkcs8, certificateChain: [d.chain[0]!] }),
      /issuing CA/,
    );
    assert.throws(() => ed25519SeedFromPkcs8(d.privateKeyPkcs8.subarray(1)), /48-byte/);
    const p256 = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
    assert.throws(() => ed25519SeedFromPkcs8(new Uint8Array(0)), /48-byte/);
    const p256Pkcs8 = new Uint8Array(await exportPkcs8(p256.privateKey));
    assert.throws(() => ed25519SeedFromPkcs8(p256Pkcs8), /Ed25519/);
  });
});
