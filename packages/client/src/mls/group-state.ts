// Pure steps on one group's ts-mls state that the engine composes: reading an application message
// in the right epoch, and adopting a pending commit without losing ratchet progress.
import type { CiphersuiteImpl, ClientState, LeafNode, PrivateMessage } from 'ts-mls';
import { unprotectPrivateMessage } from 'ts-mls/messageProtection.js';
import { MlsEngineError } from './mls-engine.js';
import { leafAt, zeroAll } from './ts-mls-support.js';

/** A decrypted application message, the sender's leaf, and the state with the ratchet advanced. */
export interface ReadResult {
  newState: ClientState;
  applicationData: Uint8Array;
  /** The sender's leaf in the tree of the message's epoch. */
  sender: LeafNode;
}

/**
 * Decrypts an application PrivateMessage (RFC 9420 §6.3) with the keys of its epoch — the current
 * one, or a past one whose keys are still retained (§15.3). Returns the state whose secret tree has
 * advanced past the used generation (§9.2), so a replay of the same message does not decrypt.
 */
export async function readApplicationMessage(
  state: ClientState,
  pm: PrivateMessage,
  cs: CiphersuiteImpl,
  decryptFailed: (cause: unknown) => never,
): Promise<ReadResult> {
  const current = state.groupContext.epoch;
  const past = pm.epoch < current ? state.historicalReceiverData.get(pm.epoch) : undefined;
  const keys =
    pm.epoch === current
      ? {
          senderDataSecret: state.keySchedule.senderDataSecret,
          secretTree: state.secretTree,
          ratchetTree: state.ratchetTree,
          groupContext: state.groupContext,
        }
      : past;
  if (!keys)
    throw new MlsEngineError(
      'wrong_epoch',
      pm.epoch > current
        ? `message for epoch ${pm.epoch}, group is at epoch ${current}: process the commits first`
        : `epoch ${pm.epoch} is too old; its keys are gone`,
    );
  const out = await unprotectPrivateMessage(
    keys.senderDataSecret,
    pm,
    keys.secretTree,
    keys.ratchetTree,
    keys.groupContext,
    state.clientConfig.keyRetentionConfig,
    cs,
  ).catch(decryptFailed);
  const historical = new Map(state.historicalReceiverData);
  if (past) historical.set(pm.epoch, { ...past, secretTree: out.tree });
  const newState: ClientState = past
    ? { ...state, historicalReceiverData: historical }
    : { ...state, secretTree: out.tree };
  zeroAll(out.consumed);
  const content = out.content.content;
  if (content.contentType !== 'application' || content.sender.senderType !== 'member')
    throw new MlsEngineError('invalid_message', 'not an application message from a member');
  const sender = leafAt(keys, content.sender.leafIndex);
  if (!sender) throw new MlsEngineError('invalid_message', 'the sender leaf is blank');
  return { newState, applicationData: content.applicationData, sender };
}

/**
 * The state a pending commit leads to, with the receiver data of every retained epoch taken from
 * the current state: application messages of the old epoch may have been decrypted after the
 * commit was made, and their ratchet progress must survive (RFC 9420 §9.2, §15.3).
 */
export function adoptPendingState(current: ClientState, pending: ClientState): ClientState {
  const historical = new Map(pending.historicalReceiverData);
  for (const epoch of historical.keys()) {
    const advanced = current.historicalReceiverData.get(epoch);
    if (advanced) historical.set(epoch, advanced);
  }
  const last = historical.get(current.groupContext.epoch);
  if (last) historical.set(current.groupContext.epoch, { ...last, secretTree: current.secretTree });
  return { ...pending, historicalReceiverData: historical };
}
