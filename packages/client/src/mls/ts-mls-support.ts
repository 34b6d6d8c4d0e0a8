// Small pieces between Enclave's engine and ts-mls 1.6.4: the suite implementation, MLSMessage
// decoding, group ids, epochs and reading leaves.
import {
  decodeMlsMessage,
  getCiphersuiteImpl,
  zeroOutUint8Array,
  type Ciphersuite,
  type CiphersuiteImpl,
  type CiphersuiteName,
  type ClientState,
  type Credential,
  type GroupState,
  type LeafNode,
  type MLSMessage,
} from 'ts-mls';
import { makeHashImpl } from 'ts-mls/crypto/implementation/noble/makeHashImpl.js';
import { ValidationError } from 'ts-mls/mlsError.js';
import {
  CredentialRejectedError,
  type EnterpriseAuthenticationService,
} from './enterprise-authentication-service.js';
import { bytesEqual, identityOfCredential, type EnterpriseIdentity } from './enterprise-credential.js';
import {
  MlsEngineError,
  type GroupId,
  type GroupMember,
  type MessageInfo,
  type MlsEngineErrorCode,
} from './mls-engine.js';

/** RFC 9420 §17.1 cipher suite 1: X25519, AES-128-GCM, SHA-256, Ed25519. */
export const DEFAULT_CIPHER_SUITE: CiphersuiteName = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519';

const MAX_GROUP_ID_BYTES = 255;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Standard base64 of bytes (map keys for KeyPackageRefs). */
export const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');

/**
 * The default ts-mls suite implementation with its hash swapped for the synchronous @noble/hashes
 * one ts-mls also ships. ts-mls 1.6.4 re-hashes whole subtrees per leaf when it checks parent
 * hashes on join (O(n²) digests); with WebCrypto's async digest a join into a 1,000-member group
 * took 34 s on the reference machine, with noble 12 s. Same algorithms (SHA-256 and HMAC-SHA-256
 * for suite 1); the official vectors run on this implementation.
 */
export async function ciphersuiteImpl(suite: Ciphersuite): Promise<CiphersuiteImpl> {
  return { ...(await getCiphersuiteImpl(suite)), hash: makeHashImpl(suite.hash) };
}

/** Decodes a whole MLSMessage (RFC 9420 §6) or throws `invalid_message`. */
export function decodeMessage(bytes: Uint8Array): MLSMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('an MLS message must be bytes');
  const out = decodeMlsMessage(bytes, 0);
  if (!out || out[1] !== bytes.length)
    throw new MlsEngineError('invalid_message', 'not an MLSMessage (RFC 9420 §6)');
  if (out[0].version !== 'mls10') throw new MlsEngineError('invalid_message', 'not an MLS 1.0 message');
  return out[0];
}

/**
 * Reads the routing facts of an MLSMessage without any key: group, epoch and content type travel
 * in clear in both PublicMessage and PrivateMessage (RFC 9420 §6.2, §6.3).
 * @example inspectMessage(commitBytes) // { wireformat: 'private_message', groupId, epoch: 3, contentType: 'commit' }
 */
export function inspectMessage(bytes: Uint8Array): MessageInfo {
  const m = decodeMessage(bytes);
  switch (m.wireformat) {
    case 'mls_private_message':
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

/** A group id as the `group_id` bytes of the GroupContext (RFC 9420 §8.1): UTF-8, 1–255 bytes. */
export function encodeGroupId(groupId: GroupId): Uint8Array {
  if (typeof groupId !== 'string') throw new TypeError('group id must be a string');
  const bytes = utf8.encode(groupId);
  if (bytes.length === 0 || bytes.length > MAX_GROUP_ID_BYTES)
    throw new RangeError(`group id must be 1 to ${MAX_GROUP_ID_BYTES} bytes of UTF-8`);
  return bytes;
}

/** The inverse of {@link encodeGroupId}; other groups' binary ids are refused. */
export function decodeGroupId(bytes: Uint8Array): GroupId {
  try {
    return utf8Strict.decode(bytes);
  } catch (cause) {
    throw new MlsEngineError('invalid_message', 'the group id is not UTF-8 (not an Enclave group)', {
      cause,
    });
  }
}

/** An MLS epoch (uint64) as a JSON-safe number. */
export function toEpoch(epoch: bigint): number {
  if (epoch < 0n || epoch > BigInt(Number.MAX_SAFE_INTEGER))
    throw new MlsEngineError('invalid_message', 'epoch out of range');
  return Number(epoch);
}

/** The leaf at `leafIndex`, or undefined when blank (RFC 9420 Appendix C: leaf i is node 2i). */
export function leafAt(state: Pick<GroupState, 'ratchetTree'>, leafIndex: number): LeafNode | undefined {
  const node = state.ratchetTree[leafIndex * 2];
  return node?.nodeType === 'leaf' ? node.leaf : undefined;
}

/** The group's leaves as their certificates name them. */
export function membersOf(state: GroupState): GroupMember[] {
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

/** Byte-equal x509 credentials. */
export function credentialEquals(a: Credential, b: Credential): boolean {
  if (a.credentialType !== 'x509' || b.credentialType !== 'x509') return false;
  return (
    a.certificates.length === b.certificates.length &&
    a.certificates.every((c, i) => bytesEqual(c, b.certificates[i] ?? new Uint8Array()))
  );
}

/**
 * Throws unless the committer's leaf was replaced by a commit-sourced leaf with a new HPKE key —
 * which is what an UpdatePath does (RFC 9420 §7.6, §12.4.1).
 */
export function assertFreshPath(before: ClientState, after: ClientState): void {
  const a = leafAt(before, before.privatePath.leafIndex);
  const b = leafAt(after, after.privatePath.leafIndex);
  if (!a || !b || b.leafNodeSource !== 'commit' || bytesEqual(a.hpkePublicKey, b.hpkePublicKey))
    throw new MlsEngineError(
      'invalid_message',
      'refusing to send a commit without an UpdatePath (RFC 9420 §12.4)',
    );
}

/** Overwrites secrets ts-mls reports as consumed (RFC 9420 §9.2 deletion schedule). */
export function zeroAll(secrets: readonly Uint8Array[]): void {
  for (const s of secrets) zeroOutUint8Array(s);
}

/** Verifies a credential with the AS, as an engine error (`credential_rejected`) when refused. */
export async function verifyMember(
  as: EnterpriseAuthenticationService,
  credential: Credential,
  signaturePublicKey: Uint8Array,
): Promise<EnterpriseIdentity> {
  try {
    return await as.verify(credential, signaturePublicKey);
  } catch (cause) {
    if (cause instanceof CredentialRejectedError)
      throw new MlsEngineError(
        'credential_rejected',
        `credential refused (${cause.reason}): ${cause.message}`,
        {
          cause,
        },
      );
    throw cause;
  }
}

/**
 * Runs a ts-mls call and turns its errors into {@link MlsEngineError}: a credential the AS refused
 * during the call becomes `credential_rejected` with the AS's reason (ts-mls only sees `false`),
 * an epoch complaint `wrong_epoch`, anything else `code`.
 */
export async function libraryCall<T>(
  as: EnterpriseAuthenticationService,
  code: MlsEngineErrorCode,
  fn: () => Promise<T>,
): Promise<T> {
  as.lastRejection = undefined;
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof MlsEngineError) throw cause;
    // Set by the AS during fn(); TypeScript cannot see that and would narrow the field to undefined.
    const rejection = as.lastRejection as CredentialRejectedError | undefined;
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
    const what = cause instanceof Error ? cause.message : String(cause);
    throw new MlsEngineError(code, `MLS: ${what}`, { cause });
  }
}
