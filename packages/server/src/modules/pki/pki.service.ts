import {
  createCrl,
  type Issuer,
  isIssuedBy,
  issueDeviceCertificate,
  signEd25519,
  type x509,
} from '@enclave/crypto';
import { commandSigningInput } from '@enclave/protocol';
import type { Db } from '../../platform/db/database.js';

export interface PkiMaterial {
  organization: string;
  root: x509.X509Certificate;
  issuing: Issuer;
  /** Signs remote commands; certified by the issuing CA with the command-signer SAN. */
  commandSigner: Issuer;
  caFingerprint: string;
}

const DEVICE_CERT_DAYS = 365;
const CRL_CACHE_MS = 2_000;

/** The enterprise CA at work: device certificates, the chain, and the CRL built from revoked devices. */
export class PkiService {
  private crlCache: { at: number; pem: string; der: Buffer } | undefined;

  constructor(
    private readonly db: Db,
    private readonly material: PkiMaterial,
  ) {}

  get caFingerprint(): string {
    return this.material.caFingerprint;
  }
  get organization(): string {
    return this.material.organization;
  }
  /** The chain a device stores as `ca.pem`: issuing CA first, then the root. */
  chainPems(): string[] {
    return [this.material.issuing.certificate.toString('pem'), this.material.root.toString('pem')];
  }

  /** Signs a command envelope (RFC 8032 Ed25519) with the command key; returns signature and certificate. */
  /** The command signer's certificate, sent with every command so the device can check the signer. */
  get commandSignerPem(): string {
    return this.material.commandSigner.certificate.toString('pem');
  }

  async signCommand(envelope: string): Promise<{ signature: string; signerCertificate: string }> {
    const sig = await signEd25519(
      this.material.commandSigner.privateKey,
      Buffer.from(commandSigningInput(envelope), 'utf8'),
    );
    return {
      signature: sig.toString('base64url'),
      signerCertificate: this.commandSignerPem,
    };
  }

  issueDevice(req: { csrPem: string; deviceId: string; userId: string; email: string }) {
    return issueDeviceCertificate(this.material.issuing, {
      ...req,
      organization: this.material.organization,
      validityDays: DEVICE_CERT_DAYS,
    });
  }

  /** True when `cert` was issued by our issuing CA and is inside its validity period. */
  isOurs(cert: x509.X509Certificate, at = new Date()): Promise<boolean> {
    return isIssuedBy(cert, this.material.issuing.certificate, at);
  }

  async crl(): Promise<{ pem: string; der: Buffer }> {
    const now = Date.now();
    if (this.crlCache && now - this.crlCache.at < CRL_CACHE_MS) return this.crlCache;
    const revoked = await this.db
      .selectFrom('devices')
      .select(['certificate_serial', 'revoked_at'])
      .where('status', '=', 'revoked')
      .execute();
    // CRL numbers must only increase (RFC 5280 §5.2.3); seconds since the epoch do, without shared state.
    const crl = await createCrl(
      this.material.issuing,
      revoked.map((r) => ({ serial: r.certificate_serial, revokedAt: new Date(r.revoked_at ?? now) })),
      Math.floor(now / 1000),
    );
    this.crlCache = { at: now, ...crl };
    return crl;
  }

  /** Called after a revocation so the next CRL request includes it at once. */
  invalidateCrl(): void {
    this.crlCache = undefined;
  }
}
