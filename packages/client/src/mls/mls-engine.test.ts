import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodeMlsMessage } from 'ts-mls';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { openSnapshot } from './engine-state-codec.js';
import { MlsEngineError, type PendingCommit } from './mls-engine.js';
import type { TsMlsEngine } from './ts-mls-engine.js';
import { inspectMessage } from './ts-mls-support.js';
import {
  createTestEngine,
  createTestEnterprise,
  issueTestDevice,
  type TestDevice,
  type TestEnterprise,
} from './test-support/enterprise-fixture.js';

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const code = (c: string) => (err: unknown) => err instanceof MlsEngineError && err.code === c;

/** A device with its engine. */
interface Peer {
  device: TestDevice;
  engine: TsMlsEngine;
  storageKey: Uint8Array;
}

async function peer(ent: TestEnterprise, deviceId: string, email: string): Promise<Peer> {
  const device = await issueTestDevice(ent, { deviceId, email });
  return { device, ...(await createTestEngine(device)) };
}

/** `creator` makes a group and adds `others` (one commit), everyone joins. */
async function group(groupId: string, creator: Peer, ...others: Peer[]): Promise<PendingCommit> {
  await creator.engine.createGroup(groupId);
  const kps = await Promise.all(others.map(async (p) => (await p.engine.generateKeyPackages(1))[0]!));
  const pending = await creator.engine.addMembers(groupId, kps);
  await creator.engine.applyPendingCommit(groupId);
  for (const p of others) assert.equal(await p.engine.joinFromWelcome(pending.welcome!), groupId);
  return pending;
}

async function send(from: Peer, groupId: string, message: string, ...to: Peer[]): Promise<void> {
  const ct = await from.engine.encrypt(groupId, text(message));
  for (const p of to) {
    const got = await p.engine.decrypt(groupId, ct);
    assert.equal(str(got.plaintext), message);
    assert.equal(got.senderDeviceId, from.device.deviceId);
    assert.equal(got.senderEmail, from.device.email);
  }
}

describe('MLS engine (ts-mls 1.6.4, enterprise credentials)', () => {
  let acme: TestEnterprise;
  before(async () => {
    acme = await createTestEnterprise('Acme');
  });

  it('lets two devices create a group, add, and exchange messages both ways', async () => {
    const a = await peer(acme, 'dev-a', 'alice@acme.test');
    const b = await peer(acme, 'dev-b', 'bob@acme.test');
    const pending = await group('conv-2', a, b);
    assert.equal(pending.epoch, 0);
    assert.deepEqual(
      pending.added.map((m) => m.deviceId),
      ['dev-b'],
    );
    assert.equal(a.engine.epoch('conv-2'), 1);
    assert.equal(b.engine.epoch('conv-2'), 1);
    await send(a, 'conv-2', 'hello bob', b);
    await send(b, 'conv-2', 'hello alice', a);
    await send(a, 'conv-2', 'second', b);
    const members = a.engine.members('conv-2');
    assert.deepEqual(
      members.map((m) => [m.deviceId, m.email, m.isSelf]),
      [
        ['dev-a', 'alice@acme.test', true],
        ['dev-b', 'bob@acme.test', false],
      ],
    );
    assert.equal(members[1]?.certificateFingerprint, b.engine.self.certificateFingerprint);
    assert.deepEqual(
      b.engine.members('conv-2').map((m) => m.certificateFingerprint),
      members.map((m) => m.certificateFingerprint),
    );
    const info = inspectMessage(pending.commit);
    assert.deepEqual(info, {
      wireformat: 'private_message',
      groupId: 'conv-2',
      epoch: 0,
      contentType: 'commit',
    });
    assert.equal(inspectMessage(pending.welcome!).wireformat, 'welcome');
  });

  it('lets three devices converse, with a member added in a later epoch', async () => {
    const a = await peer(acme, 'dev-a3', 'alice@acme.test');
    const b = await peer(acme, 'dev-b3', 'bob@acme.test');
    const c = await peer(acme, 'dev-c3', 'carol@acme.test');
    await group('conv-3', a, b);
    await send(a, 'conv-3', 'before carol', b);
    const add = await b.engine.addMembers('conv-3', await c.engine.generateKeyPackages(1));
    await b.engine.applyPendingCommit('conv-3');
    const seen = await a.engine.processHandshake('conv-3', add.commit);
    assert.deepEqual(
      seen.added.map((m) => m.deviceId),
      ['dev-c3'],
    );
    assert.equal(seen.epoch, 2);
    assert.equal(await c.engine.joinFromWelcome(add.welcome!), 'conv-3');
    await send(c, 'conv-3', 'hi from carol', a, b);
    await send(a, 'conv-3', 'hi from alice', b, c);
    await send(b, 'conv-3', 'hi from bob', a, c);
    assert.equal(c.engine.members('conv-3').length, 3);
  });

  it('round-trips its state through exportState/importState, sealed, without the raw signing seed', async () => {
    const a = await peer(acme, 'dev-a4', 'alice@acme.test');
    const b = await peer(acme, 'dev-b4', 'bob@acme.test');
    await group('conv-4', a, b);
    await a.engine.generateKeyPackages(3);
    await send(a, 'conv-4', 'one', b);
    const sealed = await a.engine.exportState();
    const seed = a.device.privateKeyPkcs8.subarray(16);
    const hay = Buffer.from(sealed);
    assert.equal(hay.indexOf(Buffer.from(seed)), -1, 'raw seed in the exported state');
    assert.equal(hay.indexOf(Buffer.from(a.device.privateKeyPkcs8)), -1, 'PKCS#8 key in the exported state');
    assert.equal(
      hay.indexOf(Buffer.from(Buffer.from(seed).toString('base64'))),
      -1,
      'base64 seed in the exported state',
    );
    assert.equal(hay.indexOf(Buffer.from('conv-4')), -1, 'group id readable in the exported state');
    // Opened with the key, the state does hold the seed — that is why it is sealed.
    const opened = openSnapshot(a.storageKey, sealed);
    assert.ok(Buffer.from(opened.groups.get('conv-4')!.state.signaturePrivateKey).equals(Buffer.from(seed)));

    const { engine: a2 } = await createTestEngine(a.device, { storageKey: a.storageKey });
    await a2.importState(sealed);
    assert.equal(a2.epoch('conv-4'), 1);
    assert.equal(a2.keyPackageCount(), 3);
    const restored: Peer = { ...a, engine: a2 };
    await send(b, 'conv-4', 'to the restored device', restored);
    await send(restored, 'conv-4', 'from the restored device', b);

    const { engine: wrongKey } = await createTestEngine(a.device);
    await assert.rejects(wrongKey.importState(sealed), code('state_invalid'));
    const { engine: otherDevice } = await createTestEngine(b.device, { storageKey: a.storageKey });
    await assert.rejects(otherDevice.importState(sealed), code('state_identity_mismatch'));
    const tampered = Uint8Array.from(sealed);
    tampered[40] = (tampered[40] ?? 0) ^ 1;
    await assert.rejects(a2.importState(tampered), code('state_invalid'));
  });

  it('regression: a removed device cannot decrypt anything in the next epoch', async () => {
    const a = await peer(acme, 'dev-a5', 'alice@acme.test');
    const b = await peer(acme, 'dev-b5', 'bob@acme.test');
    const c = await peer(acme, 'dev-c5', 'carol@acme.test');
    await group('conv-5', a, b, c);
    await send(a, 'conv-5', 'everyone', b, c);
    const beforeRemoval = await c.engine.exportState();

    // Exactly one member removed: the case 2.0.0-rc.10 sent without an UpdatePath.
    const remove = await a.engine.removeMembers('conv-5', { deviceIds: ['dev-c5'] });
    assert.deepEqual(
      remove.removed.map((m) => m.deviceId),
      ['dev-c5'],
    );
    await a.engine.applyPendingCommit('conv-5');
    assert.equal((await b.engine.processHandshake('conv-5', remove.commit)).epoch, 2);
    const gone = await c.engine.processHandshake('conv-5', remove.commit);
    assert.equal(gone.removedSelf, true);

    const secret = await a.engine.encrypt('conv-5', text('after the removal'));
    assert.equal(str((await b.engine.decrypt('conv-5', secret)).plaintext), 'after the removal');
    await assert.rejects(c.engine.decrypt('conv-5', secret), code('removed_from_group'));
    await assert.rejects(c.engine.encrypt('conv-5', text('x')), code('removed_from_group'));

    // The removed device's state from before the commit (it never processed the removal):
    const { engine: stale } = await createTestEngine(c.device, { storageKey: c.storageKey });
    await stale.importState(beforeRemoval);
    await assert.rejects(stale.decrypt('conv-5', secret), code('wrong_epoch'));

    // And below the engine: with its epoch-1 keys the removed device can read the commit, which
    // must carry an UpdatePath (fresh commit_secret, RFC 9420 §12.4) — and cannot open the message.
    const raw = openSnapshot(c.storageKey, beforeRemoval).groups.get('conv-5')!.state;
    const cs = await import('ts-mls').then((m) =>
      m.getCiphersuiteImpl(m.getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519')),
    );
    const commitMsg = decodeMlsMessage(remove.commit, 0)![0];
    assert.equal(commitMsg.wireformat, 'mls_private_message');
    if (commitMsg.wireformat !== 'mls_private_message') return;
    const opened = await unprotectPrivateMessage(
      raw.keySchedule.senderDataSecret,
      commitMsg.privateMessage,
      raw.secretTree,
      raw.ratchetTree,
      raw.groupContext,
      { retainKeysForGenerations: 10, retainKeysForEpochs: 4, maximumForwardRatchetSteps: 200 },
      cs,
    );
    assert.equal(opened.content.content.contentType, 'commit');
    if (opened.content.content.contentType !== 'commit') return;
    assert.ok(opened.content.content.commit.path, 'a single-member remove commit must carry an UpdatePath');
    const appMsg = decodeMlsMessage(secret, 0)![0];
    if (appMsg.wireformat !== 'mls_private_message') assert.fail('not a private message');
    await assert.rejects(
      unprotectPrivateMessage(
        raw.keySchedule.senderDataSecret,
        { ...appMsg.privateMessage, epoch: raw.groupContext.epoch },
        raw.secretTree,
        raw.ratchetTree,
        raw.groupContext,
        { retainKeysForGenerations: 10, retainKeysForEpochs: 4, maximumForwardRatchetSteps: 200 },
        cs,
      ),
    );
  });

  it('removes every device of a user by email and refuses to remove itself', async () => {
    const a = await peer(acme, 'dev-a6', 'alice@acme.test');
    const b1 = await peer(acme, 'dev-b6-1', 'bob@acme.test');
    const b2 = await peer(acme, 'dev-b6-2', 'bob@acme.test');
    await group('conv-6', a, b1, b2);
    await assert.rejects(
      a.engine.removeMembers('conv-6', { deviceIds: ['dev-a6'] }),
      code('proposal_rejected'),
    );
    await assert.rejects(
      a.engine.removeMembers('conv-6', { deviceIds: ['nobody'] }),
      code('no_matching_member'),
    );
    const rm = await a.engine.removeMembers('conv-6', { emails: ['Bob@acme.test'] });
    assert.deepEqual(rm.removed.map((m) => m.deviceId).sort(), ['dev-b6-1', 'dev-b6-2']);
    await a.engine.applyPendingCommit('conv-6');
    assert.deepEqual(
      a.engine.members('conv-6').map((m) => m.deviceId),
      ['dev-a6'],
    );
    assert.equal((await b1.engine.processHandshake('conv-6', rm.commit)).removedSelf, true);
  });

  it('recovers from a stale commit: the second committer discards its own and processes the first', async () => {
    const a = await peer(acme, 'dev-a7', 'alice@acme.test');
    const b = await peer(acme, 'dev-b7', 'bob@acme.test');
    const c = await peer(acme, 'dev-c7', 'carol@acme.test');
    const d = await peer(acme, 'dev-d7', 'dave@acme.test');
    await group('conv-7', a, b);
    // Both commit on epoch 1; the delivery service accepts A's first.
    const first = await a.engine.addMembers('conv-7', await c.engine.generateKeyPackages(1));
    const second = await b.engine.addMembers('conv-7', await d.engine.generateKeyPackages(1));
    assert.equal(first.epoch, 1);
    assert.equal(second.epoch, 1);
    await assert.rejects(b.engine.encrypt('conv-7', text('x')), code('commit_pending'));
    await assert.rejects(b.engine.commitUpdate('conv-7'), code('commit_pending'));
    await a.engine.applyPendingCommit('conv-7');
    // B is told 409 stale_epoch:
    b.engine.discardPendingCommit('conv-7');
    assert.equal(b.engine.epoch('conv-7'), 1);
    const processed = await b.engine.processHandshake('conv-7', first.commit);
    assert.deepEqual(
      processed.added.map((m) => m.deviceId),
      ['dev-c7'],
    );
    assert.equal(b.engine.epoch('conv-7'), 2);
    assert.equal(await c.engine.joinFromWelcome(first.welcome!), 'conv-7');
    // D's welcome belonged to the losing commit and leads nowhere usable; B retries on the new epoch.
    const retry = await b.engine.addMembers('conv-7', await d.engine.generateKeyPackages(1));
    assert.equal(retry.epoch, 2);
    await b.engine.applyPendingCommit('conv-7');
    await a.engine.processHandshake('conv-7', retry.commit);
    await c.engine.processHandshake('conv-7', retry.commit);
    await d.engine.joinFromWelcome(retry.welcome!);
    await send(d, 'conv-7', 'all four', a, b, c);
    await send(b, 'conv-7', 'bob too', a, c, d);
  });

  it('drops a losing pending commit by itself, and recognises its own commit delivered back', async () => {
    const a = await peer(acme, 'dev-a8', 'alice@acme.test');
    const b = await peer(acme, 'dev-b8', 'bob@acme.test');
    await group('conv-8', a, b);
    const winner = await a.engine.commitUpdate('conv-8');
    await b.engine.commitUpdate('conv-8');
    const seenByA = await a.engine.processHandshake('conv-8', winner.commit);
    assert.equal(seenByA.wasOwnCommit, true);
    assert.equal(a.engine.pendingCommit('conv-8'), undefined);
    const seenByB = await b.engine.processHandshake('conv-8', winner.commit);
    assert.equal(seenByB.wasOwnCommit, false);
    assert.equal(b.engine.pendingCommit('conv-8'), undefined);
    await send(a, 'conv-8', 'epoch 2', b);
    await send(b, 'conv-8', 'epoch 2 back', a);
    await assert.rejects(b.engine.processHandshake('conv-8', winner.commit), code('wrong_epoch'));
  });

  it('serialises concurrent calls, so parallel encrypts never reuse a ratchet generation', async () => {
    const a = await peer(acme, 'dev-a12', 'alice@acme.test');
    const b = await peer(acme, 'dev-b12', 'bob@acme.test');
    await group('conv-12', a, b);
    const cts = await Promise.all(
      ['m0', 'm1', 'm2', 'm3', 'm4'].map((m) => a.engine.encrypt('conv-12', text(m))),
    );
    const got = await Promise.all(cts.map((ct) => b.engine.decrypt('conv-12', ct)));
    assert.deepEqual(
      got.map((g) => str(g.plaintext)),
      ['m0', 'm1', 'm2', 'm3', 'm4'],
    );
    // A replayed ciphertext does not decrypt twice (its key was deleted, RFC 9420 §9.2).
    await assert.rejects(b.engine.decrypt('conv-12', cts[0]!), code('decrypt_failed'));
    assert.deepEqual(await a.engine.generateKeyPackages(0), []);
  });

  it('keeps a pending commit across export/import and applies it after a restart', async () => {
    const a = await peer(acme, 'dev-a9', 'alice@acme.test');
    const b = await peer(acme, 'dev-b9', 'bob@acme.test');
    await group('conv-9', a, b);
    const pending = await a.engine.commitUpdate('conv-9');
    await send(b, 'conv-9', 'while A has a pending commit', a);
    const sealed = await a.engine.exportState();
    const { engine: a2 } = await createTestEngine(a.device, { storageKey: a.storageKey });
    await a2.importState(sealed);
    assert.deepEqual(a2.pendingCommit('conv-9')?.commit, pending.commit);
    await a2.applyPendingCommit('conv-9');
    await b.engine.processHandshake('conv-9', pending.commit);
    await send(b, 'conv-9', 'after', { ...a, engine: a2 });
  });

  it('uses a one-time KeyPackage once and the last-resort KeyPackage more than once', async () => {
    const a = await peer(acme, 'dev-a10', 'alice@acme.test');
    const b = await peer(acme, 'dev-b10', 'bob@acme.test');
    const [kp] = await b.engine.generateKeyPackages(1);
    assert.equal(b.engine.keyPackageCount(), 1);
    await a.engine.createGroup('conv-10a');
    const add = await a.engine.addMembers('conv-10a', [kp!]);
    await b.engine.joinFromWelcome(add.welcome!);
    assert.equal(b.engine.keyPackageCount(), 0);
    const lastResort = await b.engine.lastResortKeyPackage();
    assert.deepEqual(await b.engine.lastResortKeyPackage(), lastResort);
    for (const gid of ['conv-10b', 'conv-10c']) {
      await a.engine.createGroup(gid);
      const p = await a.engine.addMembers(gid, [lastResort]);
      await a.engine.applyPendingCommit(gid);
      assert.equal(await b.engine.joinFromWelcome(p.welcome!), gid);
    }
    const c = await peer(acme, 'dev-c10', 'carol@acme.test');
    await assert.rejects(c.engine.joinFromWelcome(add.welcome!), code('no_matching_key_package'));
  });

  it('accepts a renewed certificate for the same user and device, and refuses one for another user', async () => {
    const a = await peer(acme, 'dev-a11', 'alice@acme.test');
    const b = await peer(acme, 'dev-b11', 'bob@acme.test');
    await group('conv-11', a, b);
    const oldFingerprint = b.engine.self.certificateFingerprint;
    const renewed = await issueTestDevice(acme, {
      deviceId: 'dev-b11',
      email: 'bob@acme.test',
      keys: b.device.keys,
    });
    await b.engine.renewCredential(renewed.chain, renewed.privateKeyPkcs8);
    const up = await b.engine.commitUpdate('conv-11');
    await b.engine.applyPendingCommit('conv-11');
    await a.engine.processHandshake('conv-11', up.commit);
    const fp = a.engine.members('conv-11').find((m) => m.deviceId === 'dev-b11')?.certificateFingerprint;
    assert.equal(fp, b.engine.self.certificateFingerprint);
    assert.notEqual(fp, oldFingerprint);
    await send(b, 'conv-11', 'renewed', a);

    // Same key, certificate for another user: B's own engine refuses it …
    const hijack = await issueTestDevice(acme, {
      deviceId: 'dev-b11',
      email: 'mallory@acme.test',
      keys: b.device.keys,
    });
    await assert.rejects(
      b.engine.renewCredential(hijack.chain, hijack.privateKeyPkcs8),
      code('successor_rejected'),
    );
    // … and if a modified client sends it anyway, the other members refuse the commit (RFC 9420 §5.3.1).
    const { engine: evil } = await createTestEngine(hijack, { storageKey: b.storageKey });
    await evil.importState(await b.engine.exportState());
    const bad = await evil.commitUpdate('conv-11');
    await assert.rejects(a.engine.processHandshake('conv-11', bad.commit), code('successor_rejected'));
    assert.equal(a.engine.epoch('conv-11'), 2, 'the refused commit changed nothing');
  });
});
