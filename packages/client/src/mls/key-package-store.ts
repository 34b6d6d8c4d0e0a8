// The device's KeyPackages (RFC 9420 §10): public halves go to the server, private halves stay
// here, indexed by KeyPackageRef (§5.2) so a Welcome finds the one it was made for.
import {
  defaultCapabilities,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type CiphersuiteImpl,
  type KeyPackage,
  type PrivateKeyPackage,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import type { DeviceSigningIdentity } from './device-signing-identity.js';
import type { StoredKeyPackage } from './engine-state-codec.js';
import { b64 } from './ts-mls-support.js';

const DAY_MS = 86_400_000;
/** A last-resort KeyPackage is replaced once it has less than this left to live. */
const LAST_RESORT_MIN_REMAINING_MS = 7 * DAY_MS;

/** Builds, stores and hands out the device's KeyPackages. */
export class KeyPackageStore {
  private byRef = new Map<string, StoredKeyPackage>();

  constructor(
    private readonly cs: CiphersuiteImpl,
    private readonly settings: { lifetimeDays: number; now: () => Date },
  ) {}

  /** A fresh KeyPackage for `identity`, not stored (group creation uses one for its own leaf). */
  async make(
    identity: DeviceSigningIdentity,
  ): Promise<{ publicPackage: KeyPackage; privatePackage: PrivateKeyPackage }> {
    const now = this.settings.now().getTime();
    const notAfter = Math.min(now + this.settings.lifetimeDays * DAY_MS, identity.notAfter.getTime());
    const caps = defaultCapabilities();
    return generateKeyPackageWithKey(
      identity.credential,
      // RFC 9420 §7.2: x509 is the only credential type in use; the GREASE values stay (§13.5).
      { ...caps, credentials: caps.credentials.filter((c) => c !== 'basic') },
      // RFC 9420 §7.2 lifetime: an hour back for clock skew, never past the certificate's expiry.
      { notBefore: BigInt(Math.floor(now / 1000) - 3600), notAfter: BigInt(Math.floor(notAfter / 1000)) },
      [],
      // The MLS signature key is the certified device key (no second, uncertified key).
      { signKey: identity.signingSeed, publicKey: identity.publicKey },
      this.cs,
    );
  }

  /** Makes and stores a KeyPackage; returns it as an MLSMessage to upload. */
  async add(identity: DeviceSigningIdentity, lastResort: boolean): Promise<Uint8Array> {
    const { publicPackage, privatePackage } = await this.make(identity);
    this.byRef.set(await this.refOf(publicPackage), {
      publicPackage,
      initPrivateKey: privatePackage.initPrivateKey,
      hpkePrivateKey: privatePackage.hpkePrivateKey,
      lastResort,
    });
    return toMessage(publicPackage);
  }

  /** The current last-resort KeyPackage (RFC 9420 §16.8), made when missing or about to expire. */
  async lastResort(identity: DeviceSigningIdentity): Promise<Uint8Array> {
    this.pruneExpired();
    const horizon = BigInt(Math.floor((this.settings.now().getTime() + LAST_RESORT_MIN_REMAINING_MS) / 1000));
    const current = [...this.byRef.values()].find(
      (k) => k.lastResort && k.publicPackage.leafNode.lifetime.notAfter > horizon,
    );
    return current ? toMessage(current.publicPackage) : this.add(identity, true);
  }

  /** Unused one-time KeyPackages. */
  count(): number {
    return [...this.byRef.values()].filter((k) => !k.lastResort).length;
  }

  /** The stored KeyPackage one of these refs names (a Welcome lists one per new member). */
  find(refs: readonly Uint8Array[]): { ref: string; entry: StoredKeyPackage } | undefined {
    for (const r of refs) {
      const entry = this.byRef.get(b64(r));
      if (entry) return { ref: b64(r), entry };
    }
    return undefined;
  }

  /** RFC 9420 §16.8: a KeyPackage is used once; only the last-resort one stays. */
  consume(ref: string): void {
    if (this.byRef.get(ref)?.lastResort === false) this.byRef.delete(ref);
  }

  /** Every stored KeyPackage, for the sealed state. */
  all(): StoredKeyPackage[] {
    return [...this.byRef.values()];
  }

  /** Replaces the store with KeyPackages read back from the sealed state. */
  async load(entries: readonly StoredKeyPackage[]): Promise<void> {
    const next = new Map<string, StoredKeyPackage>();
    for (const k of entries) next.set(await this.refOf(k.publicPackage), k);
    this.byRef = next;
  }

  private refOf(kp: KeyPackage): Promise<string> {
    return makeKeyPackageRef(kp, this.cs.hash).then(b64); // RFC 9420 §5.2 KeyPackageRef
  }

  private pruneExpired(): void {
    const now = BigInt(Math.floor(this.settings.now().getTime() / 1000));
    for (const [ref, k] of this.byRef)
      if (k.publicPackage.leafNode.lifetime.notAfter < now) this.byRef.delete(ref);
  }
}

function toMessage(keyPackage: KeyPackage): Uint8Array {
  return encodeMlsMessage({ version: 'mls10', wireformat: 'mls_key_package', keyPackage });
}
