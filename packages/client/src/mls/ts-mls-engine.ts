// MlsEngine on ts-mls 1.6.4 (pinned). What this file adds to the library, and why:
// - commits are returned as pending and adopted only after the delivery service accepts them;
// - only Add/Remove commits and path-only updates are made or accepted (no external senders, no
//   standalone proposals, no GroupContextExtensions — 1.6.4 mis-handles the last two);
// - every credential goes through the enterprise AS, senders of application messages included,
//   and a changed credential must be a valid successor (same user, same device);
// - a Remove commit that would go out without an UpdatePath is refused before it is sent.
import {
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultKeyPackageEqualityConfig,
  defaultKeyRetentionConfig,
  defaultLifetimeConfig,
  defaultPaddingConfig,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  makePskIndex,
  processPrivateMessage,
  processPublicMessage,
  zeroOutUint8Array,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type ClientConfig,
  type ClientState,
  type Credential,
  type GroupState,
  type IncomingMessageAction,
  type IncomingMessageCallback,
  type LeafNode,
  type MLSMessage,
  type Proposal,
  type ProposalWithSender,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { MlsError, ValidationError } from 'ts-mls/mlsError.js';
import {
  CredentialRejectedError,
  EnterpriseAuthenticationService,
  type EnterpriseTrust,
} from './enterprise-authentication-service.js';
import { bytesEqual, identityOfCredential } from './enterprise-credential.js';
import {
  loadDeviceSigningIdentity,
  type DeviceCredentials,
  type DeviceSigningIdentity,
} from './device-signing-identity.js';
import {
  openSnapshot,
  sealSnapshot,
  type EngineSnapshot,
  type StoredKeyPackage,
} from './engine-state-codec.js';
import {
  MlsEngineError,
  type DecryptedMessage,
  type GroupId,
  type GroupMember,
  type HandshakeResult,
  type MessageInfo,
  type MlsEngine,
  type MlsEngineErrorCode,
  type PendingCommit,
  type RemoveSelector,
} from './mls-engine.js';

/** RFC 9420 §17.1 cipher suite 1: X25519, AES-128-GCM, SHA-256, Ed25519. */
export const DEFAULT_CIPHER_SUITE: CiphersuiteName = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

/** How to build a {@link TsMlsEngine}. */
export interface TsMlsEngineOptions {
  /** The device's enterprise key and certificate chain; the MLS signature key is this key. */
  credentials: DeviceCredentials;
  /** The enterprise root and revocation check every credential is validated against. */
  trust: EnterpriseTrust;
  /** 32-byte key that seals {@link MlsEngine.exportState} (AES-256-GCM). */
  storageKey: Uint8Array;
  /** Ed25519 suites only (the device key is Ed25519); default suite 1. */
  cipherSuite?: CiphersuiteName;
  /** KeyPackage lifetime, capped by the certificate's expiry (RFC 9420 §7.2). Default 90 days. */
  keyPackageLifetimeDays?: number;
}

interface PendingEntry {
  state: ClientState;
  commit: PendingCommit;
}
interface GroupEntry {
  state: ClientState;
  pending?: PendingEntry;
}

const MAX_KEY_PACKAGES_PER_CALL = 1000;
const MAX_GROUP_ID_BYTES = 255;
const LAST_RESORT_MIN_REMAINING_MS = 7 * 86_400_000;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

/**
 * Creates an engine for one device. The identity is checked first: the private key must belong
 * to the device certificate, and the certificate must pass the enterprise AS itself.
 * @example
 * const engine = await createMlsEngine({ credentials: { privateKeyPkcs8, certificateChain: [devicePem, issuingPem] },
 *   trust: { root: rootPem, isRevoked: (serial) => crl.has(serial) }, storageKey });
 */
export async function createMlsEngine(opts: TsMlsEngineOptions): Promise<TsMlsEngine> {
  if (!(opts.storageKey instanceof Uint8Array) || opts.storageKey.length !== 32)
    throw new TypeError('storageKey must be 32 bytes');
  const suite = opts.cipherSuite ?? DEFAULT_CIPHER_SUITE;
  const cs = getCiphersuiteFromName(suite);
  if (cs.signature !== 'Ed25519') throw new TypeError(`cipher suite ${suite} does not sign with Ed25519`);
  let identity: DeviceSigningIdentity;
  try {
    identity = await loadDeviceSigningIdentity(opts.credentials);
  } catch (cause) {
    throw new MlsEngineError(
      'invalid_identity',
      `the device identity is unusable: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  const as = new EnterpriseAuthenticationService(opts.trust);
  try {
    await as.verify(identity.credential, identity.publicKey);
  } catch (cause) {
    throw new MlsEngineError(
      'invalid_identity',
      `the device credential is refused: ${(cause as Error).message}`,
      {
        cause,
      },
    );
  }
  return new TsMlsEngine(identity, as, await getCiphersuiteImpl(cs), Uint8Array.from(opts.storageKey), {
    lifetimeDays: opts.keyPackageLifetimeDays ?? 90,
    now: opts.trust.now ?? (() => new Date()),
  });
}

/** Reads the routing facts of an MLSMessage without keys (group, epoch, content type). */
export function inspectMessage(bytes: Uint8Array): MessageInfo {
  const m = decodeMessage(bytes);
  switch (m.wireformat) {
    case 'mls_private_message': // RFC 9420 §6.3.1: group_id, epoch, content_type travel in clear
      return {
        wireformat: 'private_message',
        groupId: decodeGroupId(m.privateMessage.groupId),
        epoch: toEpoch(m.privateMessage.epoch),
        contentType: m.privateMessage.contentType,
      };
    case 'mls_public_message':
      return {
        wireformat: 'public_message',
        groupId: decodeGroupId(m.publicMessage.content.groupId),
        epoch: toEpoch(m.publicMessage.content.epoch),
        contentType: m.publicMessage.content.contentType,
      };
    case 'mls_welcome':
      return { wireformat: 'welcome' };
    case 'mls_group_info':
      return { wireformat: 'group_info' };
    case 'mls_key_package':
      return { wireformat: 'key_package' };
  }
}

/** {@link MlsEngine} on ts-mls 1.6.4. Build it with {@link createMlsEngine}. */
export class TsMlsEngine implements MlsEngine {
  private groupsById = new Map<GroupId, GroupEntry>();
  private keyPackages = new Map<string, StoredKeyPackage>();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly clientConfig: ClientConfig;

  /** @internal Use {@link createMlsEngine}. */
  constructor(
    private identity: DeviceSigningIdentity,
    /** The strict AS every credential passes through. */
    readonly authenticationService: EnterpriseAuthenticationService,
    private readonly cs: CiphersuiteImpl,
    private readonly storageKey: Uint8Array,
    private readonly settings: { lifetimeDays: number; now: () => Date },
  ) {
    this.clientConfig = {
      keyRetentionConfig: defaultKeyRetentionConfig,
      lifetimeConfig: defaultLifetimeConfig,
      keyPackageEqualityConfig: defaultKeyPackageEqualityConfig,
      paddingConfig: defaultPaddingConfig,
      authService: authenticationService, // never ts-mls's default, which accepts everything
    };
  }

  /** This device as its certificate names it. */
  get self(): { deviceId: string; email: string; certificateFingerprint: string } {
    const { deviceId, email, certificateFingerprint } = this.identity.identity;
    return { deviceId, email, certificateFingerprint };
  }

  // ── KeyPackages (RFC 9420 §10) ──────────────────────────────────────────

  generateKeyPackages(count: number): Promise<Uint8Array[]> {
    if (!Number.isInteger(count) || count < 1 || count > MAX_KEY_PACKAGES_PER_CALL)
      throw new RangeError(`count must be an integer from 1 to ${MAX_KEY_PACKAGES_PER_CALL}`);
    return this.serial(async () => {
      const out: Uint8Array[] = [];
      for (let i = 0; i < count; i++) out.push(await this.newKeyPackage(false));
      return out;
    });
  }

  lastResortKeyPackage(): Promise<Uint8Array> {
    return this.serial(async () => {
      this.pruneExpiredKeyPackages();
      const horizon = BigInt(
        Math.floor((this.settings.now().getTime() + LAST_RESORT_MIN_REMAINING_MS) / 1000),
      );
      const current = [...this.keyPackages.values()].find(
        (k) => k.lastResort && k.publicPackage.leafNode.lifetime.notAfter > horizon,
      );
      if (current)
        return encodeMlsMessage({
          version: 'mls10',
          wireformat: 'mls_key_package',
          keyPackage: current.publicPackage,
        });
      return this.newKeyPackage(true);
    });
  }

  keyPackageCount(): number {
    return [...this.keyPackages.values()].filter((k) => !k.lastResort).length;
  }

  // ── Groups ──────────────────────────────────────────────────────────────

  createGroup(groupId: GroupId): Promise<void> {
    const gid = encodeGroupId(groupId);
    return this.serial(async () => {
      if (this.groupsById.has(groupId)) throw new MlsEngineError('group_exists', `group ${groupId} exists`);
      const { publicPackage, privatePackage } = await this.makeKeyPackage();
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
        // Checked here for a precise error; ts-mls checks again (RFC 9420 §12.2, KeyPackage validation).
        const who = await this.verifyCredential(kp.leafNode.credential, kp.leafNode.signaturePublicKey);
        added.push({ ...who, leafIndex: -1, isSelf: false });
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
      const members = membersOf(result.newState);
      for (const a of added) a.leafIndex = members.find((m) => m.deviceId === a.deviceId)?.leafIndex ?? -1;
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
          'a device cannot remove itself with a commit (RFC 9420 §12.2)',
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
      // derive the next epoch. Re-checked here because a library release got this wrong (2.0.0-rc.10).
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
      const result = await this.lib('invalid_message', () =>
        // RFC 9420 §12.4: a commit with no proposals is a full UpdatePath (post-compromise security).
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
      // RFC 9420 §12.4.3.1: find the EncryptedGroupSecrets addressed to one of our KeyPackageRefs.
      let ref: string | undefined;
      for (const s of welcome.secrets) if (this.keyPackages.has(b64(s.newMember))) ref = b64(s.newMember);
      const kp = ref === undefined ? undefined : this.keyPackages.get(ref);
      if (ref === undefined || !kp)
        throw new MlsEngineError(
          'no_matching_key_package',
          'the Welcome is not for any KeyPackage of this device',
        );
      const state = await this.lib('invalid_message', () =>
        joinGroup(
          welcome,
          kp.publicPackage,
          {
            initPrivateKey: kp.initPrivateKey,
            hpkePrivateKey: kp.hpkePrivateKey,
            signaturePrivateKey: this.identity.signingSeed,
          },
          makePskIndex(undefined, {}),
          this.cs,
          undefined, // RFC 9420 §12.4.3.3: the tree comes from the GroupInfo's ratchet_tree extension
          undefined,
          this.clientConfig,
        ),
      );
      const groupId = decodeGroupId(state.groupContext.groupId);
      const existing = this.groupsById.get(groupId);
      if (
        existing &&
        existing.state.groupActiveState.kind === 'active' &&
        existing.state.groupContext.epoch >= state.groupContext.epoch
      )
        throw new MlsEngineError('group_exists', `already a member of ${groupId} at a later epoch`);
      // RFC 9420 §16.8: a KeyPackage is used once; only the last-resort one stays.
      if (!kp.lastResort) this.keyPackages.delete(ref);
      this.groupsById.set(groupId, { state });
      return groupId;
    });
  }

  processHandshake(groupId: GroupId, bytes: Uint8Array): Promise<HandshakeResult> {
    return this.serial(async () => {
      const entry = this.group(groupId);
      const m = decodeMessage(bytes);
      const info = messageInfoOf(m);
      if (info.groupId !== groupId)
        throw new MlsEngineError('invalid_message', 'the message is for another group');
      if (info.contentType !== 'commit')
        throw new MlsEngineError(
          'proposal_rejected',
          'only commits are processed (Enclave sends no standalone proposals)',
        );
      if (entry.pending && bytesEqual(entry.pending.commit.commit, bytes)) {
        // The delivery service delivered our own commit back: it was accepted.
        const { commit } = entry.pending;
        this.adoptPending(entry);
        return {
          epoch: this.epoch(groupId),
          added: commit.added,
          removed: commit.removed,
          removedSelf: false,
          wasOwnCommit: true,
        };
      }
      if (entry.state.groupActiveState.kind === 'removedFromGroup')
        throw new MlsEngineError('removed_from_group', `this device was removed from ${groupId}`);
      const current = toEpoch(entry.state.groupContext.epoch);
      if (info.epoch !== current)
        throw new MlsEngineError(
          'wrong_epoch',
          `commit for epoch ${info.epoch}, group is at epoch ${current}`,
        );
      // Another commit won this epoch at the delivery service (RFC 9420 §14): ours is void.
      delete entry.pending;
      const before = entry.state;
      let seen: { sender: number | undefined; proposals: ProposalWithSender[] } | undefined;
      let refused: string | undefined;
      const callback: IncomingMessageCallback = (incoming): IncomingMessageAction => {
        if (incoming.kind !== 'commit') {
          refused = 'standalone proposals are not accepted';
          return 'reject';
        }
        seen = { sender: incoming.senderLeafIndex, proposals: incoming.proposals };
        // Enclave commits Adds, Removes, or nothing (a path-only update). Anything else — PSK,
        // ReInit, ExternalInit, GroupContextExtensions (no path in 1.6.4), Update by reference —
        // is not something our devices send.
        const other = incoming.proposals.find(
          (p) => p.proposal.proposalType !== 'add' && p.proposal.proposalType !== 'remove',
        );
        if (other) {
          refused = `proposal type ${String(other.proposal.proposalType)} is not accepted`;
          return 'reject';
        }
        return 'accept';
      };
      const pskIndex = makePskIndex(before, {});
      const result = await this.lib('invalid_message', async () => {
        if (m.wireformat === 'mls_public_message')
          return processPublicMessage(before, m.publicMessage, pskIndex, this.cs, callback);
        if (m.wireformat !== 'mls_private_message')
          throw new MlsEngineError('invalid_message', 'not a handshake message');
        const r = await processPrivateMessage(before, m.privateMessage, pskIndex, this.cs, callback);
        if (r.kind !== 'newState') throw new MlsEngineError('invalid_message', 'not a handshake message');
        return r;
      });
      if (result.actionTaken === 'reject' || !seen)
        throw new MlsEngineError('proposal_rejected', refused ?? 'the commit was refused');
      const after = result.newState;
      const { sender, proposals } = seen;
      // The committer must still hold a valid credential (a revoked device cannot commit): an
      // Add-only commit carries no path, so ts-mls would not look at the committer at all.
      const committer = sender === undefined ? undefined : leafAt(before, sender);
      if (!committer)
        throw new MlsEngineError('proposal_rejected', 'commits from non-members are not accepted');
      await this.verifyCredential(committer.credential, committer.signaturePublicKey);
      const removedIdx = new Set(
        proposals.flatMap((p) => (p.proposal.proposalType === 'remove' ? [p.proposal.remove.removed] : [])),
      );
      this.checkSuccessors(before, after, removedIdx);
      const beforeMembers = membersOf(before);
      const afterMembers = membersOf(after);
      const removed = beforeMembers.filter((x) => removedIdx.has(x.leafIndex));
      // An added leaf fills a blank slot — possibly one a Remove of the same commit emptied (RFC 9420 §12.1.1).
      const added = afterMembers.filter(
        (x) => removedIdx.has(x.leafIndex) || !beforeMembers.some((y) => y.leafIndex === x.leafIndex),
      );
      entry.state = after;
      zeroAll(result.consumed);
      const removedSelf = after.groupActiveState.kind === 'removedFromGroup';
      return { epoch: toEpoch(after.groupContext.epoch), added, removed, removedSelf, wasOwnCommit: false };
    });
  }

  encrypt(groupId: GroupId, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.serial(async () => {
      const entry = this.activeGroup(groupId);
      const { newState, privateMessage, consumed } = await this.lib('invalid_message', () =>
        createApplicationMessage(entry.state, plaintext, this.cs),
      );
      entry.state = newState;
      zeroAll(consumed); // RFC 9420 §9.2: used ratchet secrets are deleted for forward secrecy
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
      const pm = m.privateMessage;
      if (!bytesEqual(pm.groupId, entry.state.groupContext.groupId))
        throw new MlsEngineError('invalid_message', 'the message is for another group');
      const state = entry.state;
      const current = state.groupContext.epoch;
      // RFC 9420 §15.2 / §14: messages of a past epoch are readable while its keys are retained.
      const epochData =
        pm.epoch === current
          ? {
              senderDataSecret: state.keySchedule.senderDataSecret,
              secretTree: state.secretTree,
              ratchetTree: state.ratchetTree,
              groupContext: state.groupContext,
            }
          : pm.epoch < current
            ? state.historicalReceiverData.get(pm.epoch)
            : undefined;
      if (!epochData)
        throw new MlsEngineError(
          'wrong_epoch',
          pm.epoch > current
            ? `message for epoch ${pm.epoch}, group is at epoch ${current}: process the commits first`
            : `epoch ${pm.epoch} is too old; its keys are gone`,
        );
      const out = await this.lib('decrypt_failed', () =>
        unprotectPrivateMessage(
          epochData.senderDataSecret,
          pm,
          epochData.secretTree,
          epochData.ratchetTree,
          epochData.groupContext,
          this.clientConfig.keyRetentionConfig,
          this.cs,
        ),
      );
      // The ratchet has advanced whatever happens next: keep the new secret tree (RFC 9420 §9.2).
      if (pm.epoch === current) entry.state = { ...state, secretTree: out.tree };
      else {
        const historical = new Map(state.historicalReceiverData);
        const old = historical.get(pm.epoch);
        if (old) historical.set(pm.epoch, { ...old, secretTree: out.tree });
        entry.state = { ...state, historicalReceiverData: historical };
      }
      zeroAll(out.consumed);
      const content = out.content.content;
      if (content.contentType !== 'application' || content.sender.senderType !== 'member')
        throw new MlsEngineError('invalid_message', 'not an application message from a member');
      const leaf = leafAt({ ratchetTree: epochData.ratchetTree }, content.sender.leafIndex);
      if (!leaf) throw new MlsEngineError('invalid_message', 'the sender leaf is blank');
      // Re-validated per message: a device revoked since it joined can no longer be heard.
      const who = await this.verifyCredential(leaf.credential, leaf.signaturePublicKey);
      return {
        plaintext: content.applicationData,
        senderDeviceId: who.deviceId,
        senderEmail: who.email,
        epoch: toEpoch(pm.epoch),
      };
    });
  }

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
      const next = await loadDeviceSigningIdentity({ privateKeyPkcs8, certificateChain });
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
        groups: new Map(
          [...this.groupsById].map(([id, g]) => [
            id,
            {
              state: g.state,
              ...(g.pending ? { pending: { state: g.pending.state, commit: g.pending.commit } } : {}),
            },
          ]),
        ),
        keyPackages: [...this.keyPackages.values()],
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
      const keyPackages = new Map<string, StoredKeyPackage>();
      for (const k of snapshot.keyPackages)
        keyPackages.set(b64(await makeKeyPackageRef(k.publicPackage, this.cs.hash)), k);
      this.groupsById = groups;
      this.keyPackages = keyPackages;
    });
  }

  // ── internals ───────────────────────────────────────────────────────────

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    // One operation at a time: two concurrent calls on one state would both start from the same
    // ratchet position and reuse a key/nonce (RFC 9420 §9.1 forbids reuse).
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
    // While a commit is pending, nothing else may be sent: a message in the old epoch could still be
    // read by a device the pending commit removes.
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
    const pending = entry.pending;
    if (!pending) return;
    const old = entry.state;
    // The pending state was derived before later application messages of the old epochs were
    // decrypted; take the receiver data of every retained epoch from the current state instead.
    const historical = new Map(pending.state.historicalReceiverData);
    for (const epoch of historical.keys()) {
      const advanced = old.historicalReceiverData.get(epoch);
      if (advanced) historical.set(epoch, advanced);
    }
    const rec = historical.get(old.groupContext.epoch);
    if (rec) historical.set(old.groupContext.epoch, { ...rec, secretTree: old.secretTree });
    entry.state = { ...pending.state, historicalReceiverData: historical };
    delete entry.pending;
  }

  private checkSuccessors(before: ClientState, after: ClientState, removed: Set<number>): void {
    // RFC 9420 §5.3.1: a leaf whose credential changed (commit path or update) must present a valid
    // successor of the old credential.
    for (const [i, node] of before.ratchetTree.entries()) {
      if (i % 2 !== 0 || node?.nodeType !== 'leaf' || removed.has(i / 2)) continue;
      const next = after.ratchetTree[i];
      if (next?.nodeType !== 'leaf') continue;
      if (credentialEquals(node.leaf.credential, next.leaf.credential)) continue;
      if (!this.authenticationService.isValidSuccessor(node.leaf.credential, next.leaf.credential))
        throw new MlsEngineError(
          'successor_rejected',
          `leaf ${i / 2} changed to a credential for another user or device`,
        );
    }
  }

  private async verifyCredential(credential: Credential, key: Uint8Array) {
    try {
      return await this.authenticationService.verify(credential, key);
    } catch (cause) {
      if (cause instanceof CredentialRejectedError)
        throw new MlsEngineError(
          'credential_rejected',
          `credential refused (${cause.reason}): ${cause.message}`,
          { cause },
        );
      throw cause;
    }
  }

  private async makeKeyPackage() {
    const now = this.settings.now().getTime();
    const notAfter = Math.min(
      now + this.settings.lifetimeDays * 86_400_000,
      this.identity.notAfter.getTime(),
    );
    const caps = defaultCapabilities();
    return generateKeyPackageWithKey(
      this.identity.credential,
      // RFC 9420 §7.2: x509 is the only credential type in use; GREASE values stay (§13.5).
      { ...caps, credentials: caps.credentials.filter((c) => c !== 'basic') },
      // RFC 9420 §7.2 lifetime: an hour of clock skew back, never past the certificate.
      { notBefore: BigInt(Math.floor(now / 1000) - 3600), notAfter: BigInt(Math.floor(notAfter / 1000)) },
      [],
      { signKey: this.identity.signingSeed, publicKey: this.identity.publicKey },
      this.cs,
    );
  }

  private async newKeyPackage(lastResort: boolean): Promise<Uint8Array> {
    const { publicPackage, privatePackage } = await this.makeKeyPackage();
    const ref = b64(await makeKeyPackageRef(publicPackage, this.cs.hash)); // RFC 9420 §5.2
    this.keyPackages.set(ref, {
      publicPackage,
      initPrivateKey: privatePackage.initPrivateKey,
      hpkePrivateKey: privatePackage.hpkePrivateKey,
      lastResort,
    });
    return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage: publicPackage });
  }

  private pruneExpiredKeyPackages(): void {
    const now = BigInt(Math.floor(this.settings.now().getTime() / 1000));
    for (const [ref, k] of this.keyPackages)
      if (k.publicPackage.leafNode.lifetime.notAfter < now) this.keyPackages.delete(ref);
  }

  // Runs a ts-mls call and turns its errors into MlsEngineError with a stable code.
  private async lib<T>(code: MlsEngineErrorCode, fn: () => Promise<T>): Promise<T> {
    this.authenticationService.lastRejection = undefined;
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof MlsEngineError) throw cause;
      // Set by the AS during fn(); TypeScript cannot see that and would narrow the field to undefined.
      const rejection = this.authenticationService.lastRejection as CredentialRejectedError | undefined;
      if (cause instanceof ValidationError && rejection)
        throw new MlsEngineError(
          'credential_rejected',
          `credential refused (${rejection.reason}): ${rejection.message}`,
          {
            cause,
          },
        );
      if (cause instanceof ValidationError && /epoch/i.test(cause.message))
        throw new MlsEngineError('wrong_epoch', cause.message, { cause });
      const what = cause instanceof MlsError || cause instanceof Error ? cause.message : String(cause);
      throw new MlsEngineError(code, `MLS: ${what}`, { cause });
    }
  }
}

function decodeMessage(bytes: Uint8Array): MLSMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('an MLS message must be bytes');
  const out = decodeMlsMessage(bytes, 0);
  if (!out || out[1] !== bytes.length)
    throw new MlsEngineError('invalid_message', 'not an MLSMessage (RFC 9420 §6)');
  if (out[0].version !== 'mls10') throw new MlsEngineError('invalid_message', 'not an MLS 1.0 message');
  return out[0];
}

function messageInfoOf(m: MLSMessage): MessageInfo {
  return inspectMessage(encodeMlsMessage(m));
}

function encodeGroupId(groupId: GroupId): Uint8Array {
  const bytes = utf8.encode(groupId);
  if (typeof groupId !== 'string' || bytes.length === 0 || bytes.length > MAX_GROUP_ID_BYTES)
    throw new RangeError(`group id must be 1 to ${MAX_GROUP_ID_BYTES} bytes of UTF-8`);
  return bytes;
}

function decodeGroupId(bytes: Uint8Array): GroupId {
  try {
    return utf8Strict.decode(bytes);
  } catch (cause) {
    throw new MlsEngineError('invalid_message', 'the group id is not UTF-8 (not an Enclave group)', {
      cause,
    });
  }
}

function toEpoch(epoch: bigint): number {
  if (epoch > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MlsEngineError('invalid_message', 'epoch out of range');
  return Number(epoch);
}

function leafAt(state: Pick<GroupState, 'ratchetTree'>, leafIndex: number): LeafNode | undefined {
  const node = state.ratchetTree[leafIndex * 2]; // RFC 9420 §4.1: leaf i is node 2i
  return node?.nodeType === 'leaf' ? node.leaf : undefined;
}

function membersOf(state: GroupState): GroupMember[] {
  const out: GroupMember[] = [];
  for (const [i, node] of state.ratchetTree.entries()) {
    if (i % 2 !== 0 || node?.nodeType !== 'leaf') continue;
    const who = identityOfCredential(node.leaf.credential);
    out.push({
      deviceId: who.deviceId,
      email: who.email,
      certificateFingerprint: who.certificateFingerprint,
      leafIndex: i / 2,
      isSelf: i / 2 === state.privatePath.leafIndex,
    });
  }
  return out;
}

function credentialEquals(a: Credential, b: Credential): boolean {
  if (a.credentialType !== 'x509' || b.credentialType !== 'x509') return false;
  return (
    a.certificates.length === b.certificates.length &&
    a.certificates.every((c, i) => bytesEqual(c, b.certificates[i] ?? new Uint8Array()))
  );
}

// The committer's own leaf must have been replaced by a commit-sourced leaf with a new HPKE key:
// that is what an UpdatePath does (RFC 9420 §12.4.2).
function assertFreshPath(before: ClientState, after: ClientState): void {
  const a = leafAt(before, before.privatePath.leafIndex);
  const b = leafAt(after, after.privatePath.leafIndex);
  if (!a || !b || b.leafNodeSource !== 'commit' || bytesEqual(a.hpkePublicKey, b.hpkePublicKey))
    throw new MlsEngineError(
      'invalid_message',
      'refusing to send a commit without an UpdatePath (RFC 9420 §12.4)',
    );
}

function zeroAll(secrets: readonly Uint8Array[]): void {
  for (const s of secrets) zeroOutUint8Array(s);
}
