// The engine's state at rest: every group's ts-mls GroupState, pending commits, and the private
// halves of unused KeyPackages — sealed with AES-256-GCM because it holds the device signing key.
import { open, seal } from '@enclave/crypto';
import { decodeGroupState, encodeGroupState, type GroupState, type KeyPackage } from 'ts-mls';
import { decodeKeyPackage, encodeKeyPackage } from 'ts-mls/keyPackage.js';
import { z } from 'zod';
import { MlsEngineError, type GroupId, type GroupMember, type PendingCommit } from './mls-engine.js';

/** Associated data binding a sealed state to its purpose and format version. */
export const STATE_SEAL_CONTEXT = 'enclave:mls-engine-state:v1';

/** A stored KeyPackage with its private keys (RFC 9420 §10: init and encryption keys). */
export interface StoredKeyPackage {
  publicPackage: KeyPackage;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  lastResort: boolean;
}

/** A pending commit with the state it leads to. */
export interface StoredPending {
  state: GroupState;
  commit: PendingCommit;
}

/** Everything the engine persists. */
export interface EngineSnapshot {
  /** The device's Ed25519 public key: a state only opens for the identity that wrote it. */
  publicKey: Uint8Array;
  groups: Map<GroupId, { state: GroupState; pending?: StoredPending }>;
  keyPackages: StoredKeyPackage[];
}

const b64 = (u: Uint8Array): string => Buffer.from(u).toString('base64');
const B64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/)
  .transform((s) => new Uint8Array(Buffer.from(s, 'base64')));
const MemberJson = z.object({
  deviceId: z.string(),
  email: z.string(),
  certificateFingerprint: z.string(),
  leafIndex: z.number().int().min(0),
  isSelf: z.boolean(),
});
const PendingJson = z.object({
  state: B64,
  epoch: z.number().int().min(0),
  commit: B64,
  welcome: B64.optional(),
  added: z.array(MemberJson),
  removed: z.array(MemberJson),
});
const SnapshotJson = z.object({
  v: z.literal(1),
  publicKey: B64,
  groups: z.array(z.object({ id: z.string(), state: B64, pending: PendingJson.optional() })),
  keyPackages: z.array(z.object({ keyPackage: B64, init: B64, hpke: B64, lastResort: z.boolean() })),
});

function decodeWhole<T>(
  decoder: (b: Uint8Array, offset: number) => [T, number] | undefined,
  bytes: Uint8Array,
  what: string,
): T {
  const out = decoder(bytes, 0);
  if (!out || out[1] !== bytes.length)
    throw new MlsEngineError('state_invalid', `stored ${what} does not decode`);
  return out[0];
}

const memberJson = (m: GroupMember) => ({ ...m });

/** Encodes a snapshot (the plaintext that {@link sealSnapshot} encrypts). */
export function encodeSnapshot(s: EngineSnapshot): Uint8Array {
  const doc = {
    v: 1 as const,
    publicKey: b64(s.publicKey),
    groups: [...s.groups].map(([id, g]) => ({
      id,
      state: b64(encodeGroupState(g.state)),
      ...(g.pending
        ? {
            pending: {
              state: b64(encodeGroupState(g.pending.state)),
              epoch: g.pending.commit.epoch,
              commit: b64(g.pending.commit.commit),
              ...(g.pending.commit.welcome ? { welcome: b64(g.pending.commit.welcome) } : {}),
              added: g.pending.commit.added.map(memberJson),
              removed: g.pending.commit.removed.map(memberJson),
            },
          }
        : {}),
    })),
    keyPackages: s.keyPackages.map((k) => ({
      keyPackage: b64(encodeKeyPackage(k.publicPackage)),
      init: b64(k.initPrivateKey),
      hpke: b64(k.hpkePrivateKey),
      lastResort: k.lastResort,
    })),
  };
  return new TextEncoder().encode(JSON.stringify(doc));
}

/** Decodes what {@link encodeSnapshot} produced; throws `state_invalid` on anything else. */
export function decodeSnapshot(bytes: Uint8Array): EngineSnapshot {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new MlsEngineError('state_invalid', 'the MLS state is not a JSON document', { cause });
  }
  const parsed = SnapshotJson.safeParse(json);
  if (!parsed.success) throw new MlsEngineError('state_invalid', 'the MLS state has an unknown shape');
  const doc = parsed.data;
  const groups: EngineSnapshot['groups'] = new Map();
  for (const g of doc.groups) {
    const state = decodeWhole(decodeGroupState, g.state, 'group state');
    const p = g.pending;
    groups.set(g.id, {
      state,
      ...(p
        ? {
            pending: {
              state: decodeWhole(decodeGroupState, p.state, 'pending group state'),
              commit: {
                groupId: g.id,
                epoch: p.epoch,
                commit: p.commit,
                ...(p.welcome ? { welcome: p.welcome } : {}),
                added: p.added,
                removed: p.removed,
              },
            },
          }
        : {}),
    });
  }
  return {
    publicKey: doc.publicKey,
    groups,
    keyPackages: doc.keyPackages.map((k) => ({
      publicPackage: decodeWhole(decodeKeyPackage, k.keyPackage, 'KeyPackage'),
      initPrivateKey: k.init,
      hpkePrivateKey: k.hpke,
      lastResort: k.lastResort,
    })),
  };
}

/** Seals a snapshot with AES-256-GCM under the 32-byte storage key. */
export function sealSnapshot(storageKey: Uint8Array, s: EngineSnapshot): Uint8Array {
  const plain = encodeSnapshot(s);
  try {
    return new Uint8Array(seal(storageKey, plain, STATE_SEAL_CONTEXT));
  } finally {
    plain.fill(0);
  }
}

/** Opens a sealed snapshot; a wrong key or tampered bytes give `state_invalid`. */
export function openSnapshot(storageKey: Uint8Array, sealed: Uint8Array): EngineSnapshot {
  let plain: Uint8Array;
  try {
    plain = open(storageKey, sealed, STATE_SEAL_CONTEXT);
  } catch (cause) {
    throw new MlsEngineError('state_invalid', 'the MLS state does not open with this storage key', { cause });
  }
  try {
    return decodeSnapshot(plain);
  } finally {
    plain.fill(0);
  }
}
