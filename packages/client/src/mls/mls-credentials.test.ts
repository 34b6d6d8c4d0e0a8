// A forged, foreign or revoked credential cannot get into a group, join one, or be heard in one.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import {
  createCommit,
  createGroup,
  defaultCapabilities,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  type CiphersuiteImpl,
  type ClientConfig,
  type Credential,
} from 'ts-mls';
import { defaultClientConfig } from 'ts-mls/clientConfig.js';
import { exportPkcs8, generateEd25519, type x509 } from '@enclave/crypto';
import { ed25519SeedFromPkcs8 } from './device-signing-identity.js';
import { ed25519PublicKeyOf } from './enterprise-credential.js';
import { openSnapshot } from './engine-state-codec.js';
import { MlsEngineError } from './mls-engine.js';
import type { TsMlsEngine } from './ts-mls-engine.js';
import { DEFAULT_CIPHER_SUITE } from './ts-mls-support.js';
import {
  createTestEngine,
  createTestEnterprise,
  issueTestDevice,
  selfSignedDeviceCertificate,
  type TestDevice,
  type TestEnterprise,
} from './test-support/enterprise-fixture.js';

const text = (s: string) => new TextEncoder().encode(s);
const code = (c: string, detail?: RegExp) => (err: unknown) =>
  err instanceof MlsEngineError && err.code === c && (!detail || detail.test(err.message));
// A modified client: ts-mls with an AS that accepts anything (1.6.4's default behaviour).
const permissive: ClientConfig = {
  ...defaultClientConfig,
  authService: { validateCredential: () => Promise.resolve(true) },
};

/** A KeyPackage made outside the engine — as a forger would — for any credential and key. */
async function forgedKeyPackage(
  cs: CiphersuiteImpl,
  credential: Credential,
  keys: CryptoKeyPair,
): Promise<Uint8Array> {
  const seed = ed25519SeedFromPkcs8(new Uint8Array(await exportPkcs8(keys.privateKey)));
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
  const now = BigInt(Math.floor(Date.now() / 1000));
  const { publicPackage } = await generateKeyPackageWithKey(
    credential,
    defaultCapabilities(),
    { notBefore: now - 60n, notAfter: now + 86_400n },
    [],
    { signKey: seed, publicKey },
    cs,
  );
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: publicPackage });
}

const chainOf = (...certs: x509.X509Certificate[]): Credential => ({
  credentialType: 'x509',
  certificates: certs.map((c) => new Uint8Array(c.rawData)),
});

describe('MLS engine credential checks', () => {
  let cs: CiphersuiteImpl;
  let acme: TestEnterprise;
  let other: TestEnterprise;
  let alice: { device: TestDevice; engine: TsMlsEngine; storageKey: Uint8Array };
  let bob: { device: TestDevice; engine: TsMlsEngine; storageKey: Uint8Array };

  before(async () => {
    cs = await getCiphersuiteImpl(getCiphersuiteFromName(DEFAULT_CIPHER_SUITE));
    acme = await createTestEnterprise('Acme');
    other = await createTestEnterprise('Other Corp');
    const a = await issueTestDevice(acme, { deviceId: 'dev-alice', email: 'alice@acme.test' });
    const b = await issueTestDevice(acme, { deviceId: 'dev-bob', email: 'bob@acme.test' });
    alice = { device: a, ...(await createTestEngine(a)) };
    bob = { device: b, ...(await createTestEngine(b)) };
    await alice.engine.createGroup('g');
    const add = await alice.engine.addMembers('g', await bob.engine.generateKeyPackages(1));
    await alice.engine.applyPendingCommit('g');
    await bob.engine.joinFromWelcome(add.welcome!);
  });

  it('will not add a self-signed credential', async () => {
    const keys = await generateEd25519();
    const self = await selfSignedDeviceCertificate(keys, 'dev-eve', 'eve@acme.test');
    const kp = await forgedKeyPackage(cs, chainOf(self, acme.issuing.certificate), keys);
    await assert.rejects(alice.engine.addMembers('g', [kp]), code('credential_rejected', /untrusted_chain/));
    assert.equal(alice.engine.pendingCommit('g'), undefined);
  });

  it('will not add a device of another enterprise', async () => {
    const eve = await issueTestDevice(other, { deviceId: 'dev-eve', email: 'eve@other.test' });
    const { engine } = await createTestEngine(eve);
    const [kp] = await engine.generateKeyPackages(1);
    await assert.rejects(alice.engine.addMembers('g', [kp!]), code('credential_rejected', /untrusted_chain/));
  });

  it('will not add a revoked device', async () => {
    const carol = await issueTestDevice(acme, { deviceId: 'dev-carol', email: 'carol@acme.test' });
    const { engine } = await createTestEngine(carol);
    const [kp] = await engine.generateKeyPackages(1);
    acme.revoked.add(carol.certificate.serialNumber.toLowerCase());
    try {
      await assert.rejects(alice.engine.addMembers('g', [kp!]), code('credential_rejected', /revoked/));
    } finally {
      acme.revoked.clear();
    }
  });

  it('will not build an engine on a revoked, foreign or self-signed identity', async () => {
    const dave = await issueTestDevice(acme, { deviceId: 'dev-dave', email: 'dave@acme.test' });
    acme.revoked.add(dave.certificate.serialNumber.toLowerCase());
    try {
      await assert.rejects(createTestEngine(dave), code('invalid_identity'));
    } finally {
      acme.revoked.clear();
    }
    const eve = await issueTestDevice(other, { deviceId: 'dev-eve2', email: 'eve@other.test' });
    await assert.rejects(createTestEngine(eve, { trust: acme.trust }), code('invalid_identity'));
  });

  it('will not join a group created by a device of another enterprise', async () => {
    const eve = await issueTestDevice(other, { deviceId: 'dev-eve3', email: 'eve@other.test' });
    const eveKey = ed25519PublicKeyOf(eve.certificate);
    const eveSeed = ed25519SeedFromPkcs8(eve.privateKeyPkcs8);
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      chainOf(eve.certificate, other.issuing.certificate),
      defaultCapabilities(),
      { notBefore: 0n, notAfter: 2n ** 62n },
      [],
      { signKey: eveSeed, publicKey: eveKey },
      cs,
    );
    const state = await createGroup(
      new TextEncoder().encode('foreign'),
      publicPackage,
      privatePackage,
      [],
      cs,
      permissive,
    );
    const [kp] = await bob.engine.generateKeyPackages(1);
    const { decodeMlsMessage } = await import('ts-mls');
    const decoded = decodeMlsMessage(kp!, 0)![0];
    assert.equal(decoded.wireformat, 'mls_key_package');
    if (decoded.wireformat !== 'mls_key_package') return;
    const commit = await createCommit(
      { state, cipherSuite: cs },
      {
        extraProposals: [{ proposalType: 'add', add: { keyPackage: decoded.keyPackage } }],
        ratchetTreeExtension: true,
      },
    );
    const welcome = encodeMlsMessage({
      version: 'mls10',
      wireformat: 'mls_welcome',
      welcome: commit.welcome!,
    });
    await assert.rejects(bob.engine.joinFromWelcome(welcome), code('credential_rejected', /untrusted_chain/));
    assert.equal(bob.engine.hasGroup('foreign'), false);
  });

  it('will not join a group that holds a revoked device', async () => {
    const carol = await issueTestDevice(acme, { deviceId: 'dev-carol2', email: 'carol@acme.test' });
    const { engine: carolEngine } = await createTestEngine(carol);
    await alice.engine.createGroup('with-carol');
    const add = await alice.engine.addMembers('with-carol', await carolEngine.generateKeyPackages(1));
    await alice.engine.applyPendingCommit('with-carol');
    await carolEngine.joinFromWelcome(add.welcome!);
    acme.revoked.add(carol.certificate.serialNumber.toLowerCase());
    try {
      // Alice's engine does not re-validate existing leaves when it commits; the joiner does.
      const add2 = await alice.engine.addMembers('with-carol', await bob.engine.generateKeyPackages(1));
      await assert.rejects(bob.engine.joinFromWelcome(add2.welcome!), code('credential_rejected', /revoked/));
      alice.engine.discardPendingCommit('with-carol');
      // And nothing a revoked member sends is accepted: neither its messages nor its commits.
      const msg = await carolEngine.encrypt('with-carol', text('from a revoked device'));
      await assert.rejects(alice.engine.decrypt('with-carol', msg), code('credential_rejected', /revoked/));
      const update = await carolEngine.commitUpdate('with-carol');
      await assert.rejects(
        alice.engine.processHandshake('with-carol', update.commit),
        code('credential_rejected'),
      );
      assert.equal(alice.engine.epoch('with-carol'), 1);
    } finally {
      acme.revoked.clear();
    }
  });

  it('refuses a commit that adds a forged member, made by a modified client', async () => {
    const keys = await generateEd25519();
    const self = await selfSignedDeviceCertificate(keys, 'dev-eve4', 'eve@acme.test');
    const kpBytes = await forgedKeyPackage(cs, chainOf(self), keys);
    const { decodeMlsMessage } = await import('ts-mls');
    const kp = decodeMlsMessage(kpBytes, 0)![0];
    if (kp.wireformat !== 'mls_key_package') assert.fail('not a KeyPackage');
    // Alice's raw state, driven by ts-mls with an accept-all AS.
    const raw = openSnapshot(alice.storageKey, await alice.engine.exportState()).groups.get('g')!.state;
    const evil = await createCommit(
      { state: { ...raw, clientConfig: permissive }, cipherSuite: cs },
      {
        extraProposals: [{ proposalType: 'add', add: { keyPackage: kp.keyPackage } }],
        ratchetTreeExtension: true,
      },
    );
    const epoch = bob.engine.epoch('g');
    await assert.rejects(
      bob.engine.processHandshake('g', encodeMlsMessage(evil.commit)),
      code('credential_rejected'),
    );
    assert.equal(bob.engine.epoch('g'), epoch);
    // The group still works.
    const ct = await alice.engine.encrypt('g', text('still fine'));
    assert.equal(new TextDecoder().decode((await bob.engine.decrypt('g', ct)).plaintext), 'still fine');
  });
});
