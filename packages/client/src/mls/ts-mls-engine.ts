// MlsEngine on ts-mls 1.6.4 (pinned). What this file adds to the library, and why:
// - commits are returned as pending and adopted only after the delivery service accepts them;
// - only Add/Remove commits and path-only updates are made or accepted (no external senders, no
//   standalone proposals, no GroupContextExtensions — 1.6.4 mis-handles the first and the last);
// - every credential goes through the enterprise AS, senders of application messages and
//   committers included, and a changed credential must be a valid successor (same user, device);
// - a Remove commit that would go out without an UpdatePath is refused before it is sent.
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  encodeMlsMessage,
  joinGroup,
  makePskIndex,
  type CiphersuiteImpl,
  type ClientConfig,
  type ClientState,
  type Credential,
  type GroupState,
  type MLSMessage,
  type Proposal,
} from 'ts-mls';
import {
  loadDeviceSigningIdentity,
  type DeviceCredentials,
  type DeviceSigningIdentity,
} from './device-signing-identity.js';
import { openSnapshot, sealSnapshot, type EngineSnapshot } from './engine-state-codec.js';
import type { EnterpriseAuthenticationService } from './enterprise-authentication-service.js';
import { bytesEqual, type EnterpriseIdentity } from './enterprise-credential.js';
import { adoptPendingState, readApplicationMessage } from './group-state.js';
import { processIncomingCommit } from './incoming-commit.js';
import { KeyPackageStore } from './key-package-store.js';
import {
  MlsEngineError,
  type DecryptedMessage,
  type GroupId,
  type GroupMember,
  type HandshakeResult,
  type MlsEngine,
  type MlsEngineErrorCode,
  type PendingCommit,
  type RemoveSelector,
} from './mls-engine.js';
import {
  assertFreshPath,
  decodeGroupId,
  decodeMessage,
  encodeGroupId,
  inspectMessage,
  libraryCall,
  membersOf,
  toEpoch,
  verifyMember,
  zeroAll,
} from './ts-mls-support.js';

interface GroupEntry {
  state: ClientState;
  pending?: { state: ClientState; commit: PendingCommit };
}

const MAX_KEY_PACKAGES_PER_CALL = 1000;

/** {@link MlsEngine} on ts-mls 1.6.4. Build it with `createMlsEngine`. */
export class TsMlsEngine implements MlsEngine {
  private groupsById = new Map<GroupId, GroupEntry>();
  private readonly keyPackages: KeyPackageStore;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clientConfig: ClientConfig;

  /** @internal Use `createMlsEngine` (create-mls-engine.ts), which checks the identity first. */
  constructor(
    private identity: DeviceSigningIdentity,
    /** The strict AS every credential passes through. */
    readonly authenticationService: EnterpriseAuthenticationService,
    private readonly cs: CiphersuiteImpl,
    private readonly storageKey: Uint8Array,
    settings: { lifetimeDays: number; now: () => Date },
  ) {
    this.keyPackages = new KeyPackageStore(cs, settings);
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: authenticationService, // never ts-mls's default, which accepts every credential
    };
  }

  /** This device as its certificate names it. */
  get self(): Pick<EnterpriseIdentity, 'deviceId' | 'email' | 'certificateFingerprint'> {
    const { deviceId, email, certificateFingerprint } = this.identity.identity;
    return { deviceId, email, certificateFingerprint };
  }

  // ── KeyPackages (RFC 9420 §10) ──────────────────────────────────────────

  generateKeyPackages(count: number): Promise<Uint8Array[]> {
    return this.serial(async () => {
      if (!Number.isInteger(count) || count < 0 || count > MAX_KEY_PACKAGES_PER_CALL)
        throw new RangeError(`count must be an integer from 0 to ${MAX_KEY_PACKAGES_PER_CALL}`);
      const out: Uint8Array[] = [];
      for (let i = 0; i < count; i++) out.push(await this.keyPackages.add(this.identity, false));
      return out;
    });
  }

  lastResortKeyPackage(): Promise<Uint8Array> {
    return this.serial(() => this.keyPackages.lastResort(this.identity));
  }

  keyPackageCount(): number {
    return this.keyPackages.count();
  }

  // ── Commits this device makes ───────────────────────────────────────────

  createGroup(groupId: GroupId): Promise<void> {
    return this.serial(async () => {
      const gid = encodeGroupId(groupId);
      if (this.groupsById.has(groupId)) throw new MlsEngineError('group_exists', `group ${groupId} exists`);
      const { publicPackage, privatePackage } = await this.keyPackages.make(this.identity);
      // RFC 9420 §11: the creator's leaf comes from its own KeyPackage; epoch 0, no extensions.
      const state = await this.lib('invalid_message', () =>
        createGroup(gid, publicPackage, privatePackage, [], this.cs, this.clientConfig),
      );
      this.groupsById.set(groupId, { state });
    });
  }

  addMembers(groupId: GroupId, keyPackages: readonly Uint8Array[]): Promise<PendingCommit> {
    return this.serial(async () => {
      const entry = this.activeGroup(groupId);
      if (keyPackages.length === 0) throw new RangeError('no KeyPackages to add');
      const added: GroupMember[] = [];
      const proposals: Proposal[] = [];
      for (const bytes of keyPackages) {
        const m = decodeMessage(bytes);
        if (m.wireformat !== 'mls_key_package')
          throw new MlsEngineError('invalid_message', 'expected an MLSMessage carrying a KeyPackage');
        const kp = m.keyPackage;
        if (kp.cipherSuite !== this.cs.name)
          throw new MlsEngineError(
            'invalid_message',
            `KeyPackage cipher suite ${kp.cipherSuite} is not the group's`,
          );
        // RFC 9420 §10.1: ts-mls validates the KeyPackage too; this gives the precise reason first.
        const who = await this.verifyCredential(kp.leafNode.credential, kp.leafNode.signaturePublicKey);
        added.push({ ...pick(who), leafIndex: -1, isSelf: false });
        proposals.push({ proposalType: 'add', add: { keyPackage: kp } }); // RFC 9420 §12.1.1
      }
      const result = await this.lib('invalid_message', () =>
        createCommit(
          { state: entry.state, cipherSuite: this.cs },
          // RFC 9420 §12.4.3.3: the tree rides in the GroupInfo, so the Welcome alone lets a device join.
          { extraProposals: proposals, ratchetTreeExtension: true },
        ),
      );
      if (!result.welcome)
        throw new MlsEngineError('invalid_message', 'ts-mls made no Welcome for the added members');
      const after = membersOf(result.newState);
      for (const a of added) a.leafIndex = after.find((m) => m.deviceId === a.deviceId)?.leafIndex ?? -1;
      return this.setPending(entry, groupId, result.newState, result.commit, {
        welcome: encodeMlsMessage({ version: 'mls10', wireformat: 'mls_welcome', welcome: result.welcome }),
        added,
        removed: [],
      });
    });
  }

  removeMembers(groupId: GroupId, select: RemoveSelector): Promise<PendingCommit> {
    return this.serial(async () => {
      const entry = this.activeGroup(groupId);
      const deviceIds = new Set(select.deviceIds ?? []);
      const emails = new Set((select.emails ?? []).map((e) => e.toLowerCase()));
      const removed = membersOf(entry.state).filter((m) => deviceIds.has(m.deviceId) || emails.has(m.email));
      if (removed.some((m) => m.isSelf))
        throw new MlsEngineError(
          'proposal_rejected',
          'a device cannot remove itself in its own commit (RFC 9420 §12.2)',
        );
      if (removed.length === 0)
        throw new MlsEngineError('no_matching_member', 'no leaf matches the selection');
      const proposals: Proposal[] = removed.map((m) => ({
        proposalType: 'remove',
        remove: { removed: m.leafIndex },
      }));
      const result = await this.lib('invalid_message', () =>
        createCommit({ state: entry.state, cipherSuite: this.cs }, { extraProposals: proposals }),
      );
      // RFC 9420 §12.4: a commit with a Remove MUST carry an UpdatePath, or the removed device could
      // derive the next epoch. Re-checked because a library release got this wrong (2.0.0-rc.10).
      assertFreshPath(entry.state, result.newState);
      return this.setPending(entry, groupId, result.newState, result.commit, { added: [], removed });
    });
  }

  commitUpdate(groupId: GroupId): Promise<PendingCommit> {
    return this.serial(async () => {
      const entry = this.activeGroup(groupId);
      // ts-mls builds the new leaf from the current one (updatePath.js); to present a renewed
      // certificate, the own leaf's credential is replaced in a copy of the tree first.
      const ownNode = entry.state.privatePath.leafIndex * 2;
      const tree = entry.state.ratchetTree.slice();
      const own = tree[ownNode];
      if (own?.nodeType !== 'leaf') throw new MlsEngineError('state_invalid', 'own leaf is missing');
      tree[ownNode] = { nodeType: 'leaf', leaf: { ...own.leaf, credential: this.identity.credential } };
      // RFC 9420 §12.4: a commit without proposals is a full UpdatePath (post-compromise security, §16.6).
      const result = await this.lib('invalid_message', () =>
        createCommit({ state: { ...entry.state, ratchetTree: tree }, cipherSuite: this.cs }),
      );
      assertFreshPath(entry.state, result.newState);
      return this.setPending(entry, groupId, result.newState, result.commit, { added: [], removed: [] });
    });
  }

  applyPendingCommit(groupId: GroupId): Promise<void> {
    return this.serial(() => {
      const entry = this.group(groupId);
      if (!entry.pending)
        throw new MlsEngineError('no_pending_commit', `group ${groupId} has no pending commit`);
      this.adoptPending(entry);
      return Promise.resolve();
    });
  }

  discardPendingCommit(groupId: GroupId): void {
    const entry = this.group(groupId);
    if (!entry.pending)
      throw new MlsEngineError('no_pending_commit', `group ${groupId} has no pending commit`);
    delete entry.pending;
  }

  pendingCommit(groupId: GroupId): PendingCommit | undefined {
    return this.group(groupId).pending?.commit;
  }

  // ── Messages from others ────────────────────────────────────────────────

  joinFromWelcome(welcomeBytes: Uint8Array): Promise<GroupId> {
    return this.serial(async () => {
      const m = decodeMessage(welcomeBytes);
      if (m.wireformat !== 'mls_welcome') throw new MlsEngineError('invalid_message', 'expected a Welcome');
      const welcome = m.welcome;
      if (welcome.cipherSuite !== this.cs.name)
        throw new MlsEngineError(
          'invalid_message',
          `Welcome cipher suite ${welcome.cipherSuite} is not supported`,
        );
      // RFC 9420 §12.4.3.1: the EncryptedGroupSecrets addressed to one of our KeyPackageRefs.
      const found = this.keyPackages.find(welcome.secrets.map((s) => s.newMember));
      if (!found)
        throw new MlsEngineError(
          'no_matching_key_package',
          'the Welcome is not for any KeyPackage of this device',
        );
      const { publicPackage, initPrivateKey, hpkePrivateKey } = found.entry;
      const state = await this.lib('invalid_message', () =>
        joinGroup(
          welcome,
          publicPackage,
          { initPrivateKey, hpkePrivateKey, signaturePrivateKey: this.identity.signingSeed },
          makePskIndex(undefined, {}),
          this.cs,
          undefined, // RFC 9420 §12.4.3.3: the tree comes from the GroupInfo's ratchet_tree extension
          undefined,
          this.clientConfig, // the strict AS validates every leaf of the tree (§12.4.3.1)
        ),
      );
      const groupId = decodeGroupId(state.groupContext.groupId);
      const existing = this.groupsById.get(groupId);
      if (
        existing?.state.groupActiveState.kind === 'active' &&
        existing.state.groupContext.epoch >= state.groupContext.epoch
      )
        throw new MlsEngineError('group_exists', `already a member of ${groupId} at a later epoch`);
      this.keyPackages.consume(found.ref);
      this.groupsById.set(groupId, { state });
      return groupId;
    });
  }

  processHandshake(groupId: GroupId, bytes: Uint8Array): Promise<HandshakeResult> {
    return this.serial(async () => {
      const entry = this.group(groupId);
      const info = inspectMessage(bytes);
      if (info.groupId !== groupId)
        throw new MlsEngineError('invalid_message', 'the message is for another group');
      if (info.contentType !== 'commit')
        throw new MlsEngineError(
          'proposal_rejected',
          'only commits are processed (Enclave sends no standalone proposals)',
        );
      const pending = entry.pending;
      if (pending && bytesEqual(pending.commit.commit, bytes)) {
        // The delivery service handed our own commit back: it was accepted.
        this.adoptPending(entry);
        const { added, removed } = pending.commit;
        return { epoch: this.epoch(groupId), added, removed, removedSelf: false, wasOwnCommit: true };
      }
      const before = entry.state;
      if (before.groupActiveState.kind === 'removedFromGroup')
        throw new MlsEngineError('removed_from_group', `this device was removed from ${groupId}`);
      const current = toEpoch(before.groupContext.epoch);
      if (info.epoch !== current)
        throw new MlsEngineError(
          'wrong_epoch',
          `commit for epoch ${info.epoch}, group is at epoch ${current}`,
        );
      const { after, added, removed, consumed } = await processIncomingCommit(
        before,
        decodeMessage(bytes),
        this.cs,
        this.authenticationService,
      );
      // Another commit won this epoch at the delivery service (RFC 9420 §14): ours is void.
      delete entry.pending;
      entry.state = after;
      zeroAll(consumed);
      return {
        epoch: toEpoch(after.groupContext.epoch),
        added,
        removed,
        removedSelf: after.groupActiveState.kind === 'removedFromGroup',
        wasOwnCommit: false,
      };
    });
  }

  encrypt(groupId: GroupId, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be bytes');
      const entry = this.activeGroup(groupId);
      const { newState, privateMessage, consumed } = await this.lib('invalid_message', () =>
        createApplicationMessage(entry.state, plaintext, this.cs),
      );
      entry.state = newState;
      zeroAll(consumed); // RFC 9420 §9.2: a used key is deleted (forward secrecy)
      return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_private_message', privateMessage });
    });
  }

  decrypt(groupId: GroupId, bytes: Uint8Array): Promise<DecryptedMessage> {
    return this.serial(async () => {
      const entry = this.group(groupId);
      if (entry.state.groupActiveState.kind === 'removedFromGroup')
        throw new MlsEngineError('removed_from_group', `this device was removed from ${groupId}`);
      const m = decodeMessage(bytes);
      if (m.wireformat !== 'mls_private_message' || m.privateMessage.contentType !== 'application')
        throw new MlsEngineError('invalid_message', 'expected an application message (PrivateMessage)');
      if (!bytesEqual(m.privateMessage.groupId, entry.state.groupContext.groupId))
        throw new MlsEngineError('invalid_message', 'the message is for another group');
      const read = await readApplicationMessage(entry.state, m.privateMessage, this.cs, (cause) => {
        const what = cause instanceof Error ? cause.message : String(cause);
        throw new MlsEngineError('decrypt_failed', `MLS: ${what}`, { cause });
      });
      // The ratchet has moved on whatever happens next (RFC 9420 §9.2).
      entry.state = read.newState;
      // Re-validated per message: a device revoked since it joined is no longer heard.
      const who = await this.verifyCredential(read.sender.credential, read.sender.signaturePublicKey);
      return {
        plaintext: read.applicationData,
        senderDeviceId: who.deviceId,
        senderEmail: who.email,
        epoch: toEpoch(m.privateMessage.epoch),
      };
    });
  }

  // ── Reading and housekeeping ────────────────────────────────────────────

  groups(): GroupId[] {
    return [...this.groupsById.keys()];
  }

  hasGroup(groupId: GroupId): boolean {
    return this.groupsById.has(groupId);
  }

  epoch(groupId: GroupId): number {
    return toEpoch(this.group(groupId).state.groupContext.epoch);
  }

  members(groupId: GroupId): GroupMember[] {
    return membersOf(this.group(groupId).state);
  }

  /** True once a processed commit removed this device from the group. */
  isRemoved(groupId: GroupId): boolean {
    return this.group(groupId).state.groupActiveState.kind === 'removedFromGroup';
  }

  forgetGroup(groupId: GroupId): void {
    this.groupsById.delete(groupId);
  }

  /**
   * Presents a renewed device certificate (same key, same user and device) in future KeyPackages;
   * {@link commitUpdate} then puts it into each group's leaf.
   */
  renewCredential(
    certificateChain: DeviceCredentials['certificateChain'],
    privateKeyPkcs8: Uint8Array,
  ): Promise<void> {
    return this.serial(async () => {
      let next: DeviceSigningIdentity;
      try {
        next = await loadDeviceSigningIdentity({ privateKeyPkcs8, certificateChain });
      } catch (cause) {
        throw new MlsEngineError('invalid_identity', `the renewed identity is unusable: ${String(cause)}`, {
          cause,
        });
      }
      if (!bytesEqual(next.publicKey, this.identity.publicKey))
        throw new MlsEngineError(
          'invalid_identity',
          'a renewed certificate must certify the same device key',
        );
      await this.verifyCredential(next.credential, next.publicKey);
      if (!this.authenticationService.isValidSuccessor(this.identity.credential, next.credential))
        throw new MlsEngineError(
          'successor_rejected',
          'a renewed certificate must name the same user and device',
        );
      this.identity = next;
    });
  }

  exportState(): Promise<Uint8Array> {
    return this.serial(() => {
      const snapshot: EngineSnapshot = {
        publicKey: this.identity.publicKey,
        groups: new Map([...this.groupsById].map(([id, g]) => [id, { state: g.state, pending: g.pending }])),
        keyPackages: this.keyPackages.all(),
      };
      return Promise.resolve(sealSnapshot(this.storageKey, snapshot));
    });
  }

  importState(sealed: Uint8Array): Promise<void> {
    return this.serial(async () => {
      const snapshot = openSnapshot(this.storageKey, sealed);
      if (!bytesEqual(snapshot.publicKey, this.identity.publicKey))
        throw new MlsEngineError('state_identity_mismatch', 'the MLS state belongs to another device key');
      const withConfig = (s: GroupState): ClientState => ({ ...s, clientConfig: this.clientConfig });
      const groups = new Map<GroupId, GroupEntry>();
      for (const [id, g] of snapshot.groups)
        groups.set(id, {
          state: withConfig(g.state),
          ...(g.pending ? { pending: { state: withConfig(g.pending.state), commit: g.pending.commit } } : {}),
        });
      await this.keyPackages.load(snapshot.keyPackages);
      this.groupsById = groups;
    });
  }

  // ── internals ───────────────────────────────────────────────────────────

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // One operation at a time: two concurrent calls on one state would start from the same ratchet
    // position and reuse a key and nonce (RFC 9420 §9.1).
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private group(groupId: GroupId): GroupEntry {
    const entry = this.groupsById.get(groupId);
    if (!entry) throw new MlsEngineError('unknown_group', `no MLS group ${groupId}`);
    return entry;
  }

  private activeGroup(groupId: GroupId): GroupEntry {
    const entry = this.group(groupId);
    if (entry.state.groupActiveState.kind !== 'active')
      throw new MlsEngineError('removed_from_group', `this device is no longer in ${groupId}`);
    // Nothing is sent while a commit is pending: a message in the old epoch could still be read by
    // a device the pending commit removes.
    if (entry.pending)
      throw new MlsEngineError(
        'commit_pending',
        `group ${groupId} has a pending commit for epoch ${entry.pending.commit.epoch}`,
      );
    return entry;
  }

  private setPending(
    entry: GroupEntry,
    groupId: GroupId,
    newState: ClientState,
    commit: MLSMessage,
    parts: Pick<PendingCommit, 'welcome' | 'added' | 'removed'>,
  ): PendingCommit {
    const pending: PendingCommit = {
      groupId,
      epoch: toEpoch(entry.state.groupContext.epoch),
      commit: encodeMlsMessage(commit),
      ...(parts.welcome ? { welcome: parts.welcome } : {}),
      added: parts.added,
      removed: parts.removed,
    };
    entry.pending = { state: newState, commit: pending };
    return pending;
  }

  private adoptPending(entry: GroupEntry): void {
    if (!entry.pending) return;
    entry.state = adoptPendingState(entry.state, entry.pending.state);
    delete entry.pending;
  }

  private verifyCredential(credential: Credential, key: Uint8Array): Promise<EnterpriseIdentity> {
    return verifyMember(this.authenticationService, credential, key);
  }

  private lib<T>(code: MlsEngineErrorCode, fn: () => Promise<T>): Promise<T> {
    return libraryCall(this.authenticationService, code, fn);
  }
}

const pick = (who: EnterpriseIdentity) => ({
  deviceId: who.deviceId,
  email: who.email,
  certificateFingerprint: who.certificateFingerprint,
});
