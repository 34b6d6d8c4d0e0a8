// The MLS engine as the rest of Enclave sees it: small, library-neutral, bytes in and bytes out.
// The implementation on ts-mls is `ts-mls-engine.ts`; another library can sit behind the same shape.

/**
 * A conversation's MLS group id. Enclave uses the conversation id; it travels as UTF-8 in the
 * GroupContext's `group_id` (RFC 9420 §8.1).
 */
export type GroupId = string;

/** A leaf of the group as the enterprise certificate names it. */
export interface GroupMember {
  /** Device id from the certificate SAN `URI:urn:enclave:device:<id>`. */
  deviceId: string;
  /** User email from the certificate SAN `email:`. */
  email: string;
  /** SHA-256 of the device certificate's DER, lower-case hex. */
  certificateFingerprint: string;
  /** Leaf index in the ratchet tree (RFC 9420 Appendix C: leaf i is node 2i). */
  leafIndex: number;
  /** True for this device's own leaf. */
  isSelf: boolean;
}

/**
 * A commit this device created but has not adopted yet. Send `commit` (and `welcome`, if any) to
 * the delivery service; on acceptance call {@link MlsEngine.applyPendingCommit}, on `409
 * stale_epoch` call {@link MlsEngine.discardPendingCommit} and process the winning commit.
 */
export interface PendingCommit {
  groupId: GroupId;
  /** The epoch the commit was created in — the one the delivery service orders it by. */
  epoch: number;
  /** MLSMessage carrying the Commit as a PrivateMessage (RFC 9420 §6.3). */
  commit: Uint8Array;
  /**
   * MLSMessage carrying the Welcome for added devices (RFC 9420 §12.4.3.1). The GroupInfo inside
   * carries the `ratchet_tree` extension (§12.4.3.3), so these bytes are all a joiner needs.
   */
  welcome?: Uint8Array;
  added: GroupMember[];
  removed: GroupMember[];
}

/** What processing another member's commit changed. */
export interface HandshakeResult {
  /** The group's epoch after the commit. */
  epoch: number;
  added: GroupMember[];
  removed: GroupMember[];
  /** This device was removed: the group is now read-only history and can be forgotten. */
  removedSelf: boolean;
  /** The incoming commit was this device's own pending commit, which is now applied. */
  wasOwnCommit: boolean;
}

/** A decrypted application message and who sent it (from the sender's validated credential). */
export interface DecryptedMessage {
  plaintext: Uint8Array;
  senderDeviceId: string;
  senderEmail: string;
  /** The epoch the message was sent in. */
  epoch: number;
}

/** Which leaves to remove: every leaf whose certificate names one of the devices or users. */
export interface RemoveSelector {
  deviceIds?: readonly string[];
  emails?: readonly string[];
}

/** Routing facts readable from an MLSMessage without any key (RFC 9420 §6.2, §6.3). */
export interface MessageInfo {
  wireformat: 'public_message' | 'private_message' | 'welcome' | 'group_info' | 'key_package';
  /** For public and private messages. */
  groupId?: GroupId;
  epoch?: number;
  contentType?: 'application' | 'proposal' | 'commit';
}

/**
 * The device's MLS state machine (RFC 9420) for every group it is in, with its KeyPackages.
 * Calls are serialised internally; state changes are in memory until {@link exportState}.
 */
export interface MlsEngine {
  /** Generates `count` (0–1000) fresh KeyPackages (RFC 9420 §10) and returns them as MLSMessages to upload. */
  generateKeyPackages(count: number): Promise<Uint8Array[]>;
  /** The last-resort KeyPackage (RFC 9420 §16.8), created once and reused until rotated. */
  lastResortKeyPackage(): Promise<Uint8Array>;
  /** Number of unused one-time KeyPackages whose private keys this engine holds. */
  keyPackageCount(): number;

  /** Creates a one-member group at epoch 0 (RFC 9420 §11). */
  createGroup(groupId: GroupId): Promise<void>;
  /** Commits Adds for the KeyPackages (RFC 9420 §12.1.1); not applied until accepted. */
  addMembers(groupId: GroupId, keyPackages: readonly Uint8Array[]): Promise<PendingCommit>;
  /** Commits Removes for the selected leaves, always with an UpdatePath (RFC 9420 §12.4). */
  removeMembers(groupId: GroupId, select: RemoveSelector): Promise<PendingCommit>;
  /**
   * Commits an UpdatePath with no proposals: fresh leaf and path keys (post-compromise security,
   * RFC 9420 §16.6) and the engine's current credential in the leaf.
   */
  commitUpdate(groupId: GroupId): Promise<PendingCommit>;
  /** Adopts the pending commit after the delivery service accepted it. */
  applyPendingCommit(groupId: GroupId): Promise<void>;
  /** Forgets the pending commit (the delivery service answered `409 stale_epoch`). */
  discardPendingCommit(groupId: GroupId): void;
  /** The pending commit of a group, if any (e.g. to resend after a restart). */
  pendingCommit(groupId: GroupId): PendingCommit | undefined;

  /** Joins a group from a Welcome addressed to one of this engine's KeyPackages. */
  joinFromWelcome(welcome: Uint8Array): Promise<GroupId>;
  /** Processes another member's commit, in delivery-service order. */
  processHandshake(groupId: GroupId, message: Uint8Array): Promise<HandshakeResult>;
  /** Encrypts an application message in the current epoch (RFC 9420 §6.3). */
  encrypt(groupId: GroupId, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Decrypts an application message and authenticates its sender. */
  decrypt(groupId: GroupId, ciphertext: Uint8Array): Promise<DecryptedMessage>;

  /** The groups this engine holds. */
  groups(): GroupId[];
  /** True when this engine holds state for the group. */
  hasGroup(groupId: GroupId): boolean;
  /** The group's current epoch (RFC 9420 §8.1). */
  epoch(groupId: GroupId): number;
  /** The devices that can read the group's current epoch: every non-blank leaf. */
  members(groupId: GroupId): GroupMember[];
  /** Forgets a group (after being removed, or when the conversation is deleted). */
  forgetGroup(groupId: GroupId): void;

  /** The whole state, AES-256-GCM sealed under the storage key (it contains the signing key). */
  exportState(): Promise<Uint8Array>;
  /** Replaces the in-memory state with a sealed state from {@link exportState}. */
  importState(sealed: Uint8Array): Promise<void>;
}

/** Stable reasons an engine call fails (snake_case, like the API's error codes). */
export type MlsEngineErrorCode =
  | 'unknown_group'
  | 'group_exists'
  | 'commit_pending'
  | 'no_pending_commit'
  | 'removed_from_group'
  | 'credential_rejected'
  | 'successor_rejected'
  | 'proposal_rejected'
  | 'no_matching_key_package'
  | 'no_matching_member'
  | 'wrong_epoch'
  | 'invalid_message'
  | 'decrypt_failed'
  | 'invalid_identity'
  | 'state_invalid'
  | 'state_identity_mismatch';

/** Thrown by the engine; `code` is stable, `cause` carries the library's error when there is one. */
export class MlsEngineError extends Error {
  constructor(
    readonly code: MlsEngineErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MlsEngineError';
  }
}
