import { createHash, X509Certificate } from 'node:crypto';
import { ACTIVATION_DEFAULT_TTL_S, type Settings, type SettingsUpdate } from '@enclave/protocol';
import type { MetaRepository } from '../../platform/db/meta.repository.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { PkiMaterial } from '../pki/index.js';

const KEY_TTL = 'settings.activation.default_ttl_hours';
const KEY_DEVICE_LIMIT = 'settings.activation.default_device_limit';

export interface SettingsOptions {
  /** `--device-limit`: the default device limit until an administrator saves one. */
  deviceLimit: number;
  /** The TLS certificate this server presents (PEM, leaf first). */
  tlsCertPem: () => string;
}

/** The installation's defaults an administrator activation applies. */
export interface ActivationDefaults {
  ttlSeconds: number;
  deviceLimit: number;
}

function describe(pem: string) {
  const c = new X509Certificate(pem);
  return {
    subject: c.subject.split('\n').join(', '),
    fingerprint: createHash('sha256').update(c.raw).digest('hex'),
    notBefore: new Date(c.validFrom).toISOString(),
    notAfter: new Date(c.validTo).toISOString(),
    dnsNames: (c.subjectAltName ?? '')
      .split(', ')
      .filter((s) => s.startsWith('DNS:'))
      .map((s) => s.slice(4)),
  };
}

function intOr(value: string | undefined, fallback: number): number {
  const v = value === undefined ? NaN : Number(value);
  return Number.isInteger(v) && v > 0 ? v : fallback;
}

/**
 * Installation settings, kept in the `meta` table so every node of a cluster reads the same
 * values: the organisation name and the activation defaults. Certificates are shown, not edited.
 */
export class SettingsService {
  constructor(
    private readonly meta: MetaRepository,
    private readonly audit: AuditService,
    private readonly pki: PkiMaterial,
    private readonly opts: SettingsOptions,
  ) {}

  async activationDefaults(): Promise<ActivationDefaults> {
    const [ttl, limit] = await Promise.all([this.meta.get(KEY_TTL), this.meta.get(KEY_DEVICE_LIMIT)]);
    return {
      ttlSeconds: intOr(ttl, ACTIVATION_DEFAULT_TTL_S / 3600) * 3600,
      deviceLimit: intOr(limit, this.opts.deviceLimit),
    };
  }

  async get(): Promise<Settings> {
    const [organization, defaults] = await Promise.all([
      this.meta.get('organization'),
      this.activationDefaults(),
    ]);
    const ca = describe(this.pki.root.toString('pem'));
    return {
      organization: organization ?? this.pki.organization,
      activation: { defaultTtlHours: defaults.ttlSeconds / 3600, defaultDeviceLimit: defaults.deviceLimit },
      ca: {
        subject: ca.subject,
        fingerprint: ca.fingerprint,
        notBefore: ca.notBefore,
        notAfter: ca.notAfter,
      },
      tls: describe(this.opts.tlsCertPem()),
    };
  }

  async update(patch: SettingsUpdate, by: AdminPrincipal, ip: string): Promise<Settings> {
    const before = await this.get();
    const changes: Record<string, { from: unknown; to: unknown }> = {};
    if (patch.organization !== undefined && patch.organization !== before.organization) {
      await this.meta.set('organization', patch.organization);
      // This node answers /api/v1/info with the new name at once; new device certificates carry it.
      this.pki.organization = patch.organization;
      changes.organization = { from: before.organization, to: patch.organization };
    }
    const a = patch.activation;
    if (a?.defaultTtlHours !== undefined && a.defaultTtlHours !== before.activation.defaultTtlHours) {
      await this.meta.set(KEY_TTL, String(a.defaultTtlHours));
      changes.defaultTtlHours = { from: before.activation.defaultTtlHours, to: a.defaultTtlHours };
    }
    if (
      a?.defaultDeviceLimit !== undefined &&
      a.defaultDeviceLimit !== before.activation.defaultDeviceLimit
    ) {
      await this.meta.set(KEY_DEVICE_LIMIT, String(a.defaultDeviceLimit));
      changes.defaultDeviceLimit = { from: before.activation.defaultDeviceLimit, to: a.defaultDeviceLimit };
    }
    if (changes.organization) {
      await this.audit.record({
        actor: actorOf(by),
        action: 'settings.organization_changed',
        target: patch.organization ?? null,
        details: changes.organization,
        ip,
      });
    }
    const rest = Object.fromEntries(Object.entries(changes).filter(([k]) => k !== 'organization'));
    if (Object.keys(rest).length) {
      await this.audit.record({ actor: actorOf(by), action: 'settings.updated', details: rest, ip });
    }
    return this.get();
  }
}
