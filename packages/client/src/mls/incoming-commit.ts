// What a device accepts in another member's commit, beyond what ts-mls checks itself.
import {
  makePskIndex,
  processPrivateMessage,
  processPublicMessage,
  type CiphersuiteImpl,
  type ClientState,
  type IncomingMessageCallback,
  type MLSMessage,
  type ProposalWithSender,
} from 'ts-mls';
import type { EnterpriseAuthenticationService } from './enterprise-authentication-service.js';
import { MlsEngineError, type GroupMember } from './mls-engine.js';
import { credentialEquals, leafAt, libraryCall, membersOf, verifyMember } from './ts-mls-support.js';

/** Another member's commit, applied to a copy of the state and checked. */
export interface IncomingCommit {
  after: ClientState;
  added: GroupMember[];
  removed: GroupMember[];
  /** Secrets of the old state to delete once `after` is adopted (RFC 9420 §9.2). */
  consumed: Uint8Array[];
}

/**
 * Processes a commit of the current epoch (RFC 9420 §12.4.2) without touching `before`: ts-mls
 * validates it with the strict AS, then the policy, the committer's credential and credential
 * successors are checked here.
 */
export async function processIncomingCommit(
  before: ClientState,
  message: MLSMessage,
  cs: CiphersuiteImpl,
  as: EnterpriseAuthenticationService,
): Promise<IncomingCommit> {
  const policy = commitPolicy();
  const pskIndex = makePskIndex(before, {});
  const result = await libraryCall(as, 'invalid_message', async () => {
    if (message.wireformat === 'mls_public_message')
      return processPublicMessage(before, message.publicMessage, pskIndex, cs, policy.callback);
    if (message.wireformat !== 'mls_private_message')
      throw new MlsEngineError('invalid_message', 'not a handshake message');
    const r = await processPrivateMessage(before, message.privateMessage, pskIndex, cs, policy.callback);
    if (r.kind !== 'newState') throw new MlsEngineError('invalid_message', 'not a handshake message');
    return r;
  });
  if (result.actionTaken === 'reject' || !policy.seen)
    throw new MlsEngineError('proposal_rejected', policy.refusal ?? 'the commit was refused');
  // A revoked device cannot commit: an Add-only commit carries no path, so ts-mls would not look
  // at the committer's credential at all.
  const committer = policy.seen.sender === undefined ? undefined : leafAt(before, policy.seen.sender);
  if (!committer) throw new MlsEngineError('proposal_rejected', 'commits from non-members are not accepted');
  await verifyMember(as, committer.credential, committer.signaturePublicKey);
  const removed = removedLeaves(policy.seen.proposals);
  checkSuccessors(as, before, result.newState, removed);
  return {
    after: result.newState,
    ...membershipChange(before, result.newState, removed),
    consumed: result.consumed,
  };
}

/** The ts-mls callback for one incoming message, and what it saw. */
export interface CommitPolicy {
  callback: IncomingMessageCallback;
  /** The commit's sender and proposals, once ts-mls asked. */
  seen: { sender: number | undefined; proposals: ProposalWithSender[] } | undefined;
  /** Why the callback said no. */
  refusal: string | undefined;
}

/**
 * Enclave commits Adds, Removes, or nothing (a path-only update), and never sends standalone
 * proposals. Anything else — PSK, ReInit, ExternalInit, GroupContextExtensions (sent without a
 * path by 1.6.4), Update or Remove by reference — is refused.
 */
export function commitPolicy(): CommitPolicy {
  const policy: CommitPolicy = {
    seen: undefined,
    refusal: undefined,
    callback: (incoming) => {
      if (incoming.kind !== 'commit') {
        policy.refusal = 'standalone proposals are not accepted';
        return 'reject';
      }
      policy.seen = { sender: incoming.senderLeafIndex, proposals: incoming.proposals };
      const other = incoming.proposals.find(
        (p) => p.proposal.proposalType !== 'add' && p.proposal.proposalType !== 'remove',
      );
      if (other) {
        policy.refusal = `proposal type ${String(other.proposal.proposalType)} is not accepted`;
        return 'reject';
      }
      return 'accept';
    },
  };
  return policy;
}

/** Leaf indices the commit's Remove proposals empty (RFC 9420 §12.1.3). */
export function removedLeaves(proposals: readonly ProposalWithSender[]): Set<number> {
  return new Set(
    proposals.flatMap((p) => (p.proposal.proposalType === 'remove' ? [p.proposal.remove.removed] : [])),
  );
}

/**
 * RFC 9420 §5.3.1: a leaf whose credential changed (commit path or Update) must present a valid
 * successor of its old credential — the same user and the same device.
 */
export function checkSuccessors(
  as: EnterpriseAuthenticationService,
  before: ClientState,
  after: ClientState,
  removed: ReadonlySet<number>,
): void {
  for (const [i, node] of before.ratchetTree.entries()) {
    if (i % 2 !== 0 || node?.nodeType !== 'leaf' || removed.has(i / 2)) continue;
    const next = after.ratchetTree[i];
    if (next?.nodeType !== 'leaf' || credentialEquals(node.leaf.credential, next.leaf.credential)) continue;
    if (!as.isValidSuccessor(node.leaf.credential, next.leaf.credential))
      throw new MlsEngineError(
        'successor_rejected',
        `leaf ${i / 2} changed to a credential for another user or device`,
      );
  }
}

/** Who left and who joined between two states of a group. */
export function membershipChange(
  before: ClientState,
  after: ClientState,
  removed: ReadonlySet<number>,
): { added: GroupMember[]; removed: GroupMember[] } {
  const old = membersOf(before);
  // An Add fills a blank leaf — possibly one a Remove of the same commit emptied (RFC 9420 §7.7).
  return {
    removed: old.filter((m) => removed.has(m.leafIndex)),
    added: membersOf(after).filter(
      (m) => removed.has(m.leafIndex) || !old.some((o) => o.leafIndex === m.leafIndex),
    ),
  };
}
