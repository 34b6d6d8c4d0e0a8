import { z } from 'zod';
import { AuditEntrySchema } from './audit.js';
import { IsoDateSchema } from './common.js';
import { ComplianceRuleSchema } from './compliance.js';

const Count = z.number().int().min(0);

/**
 * `GET /api/v1/dashboard` — the fleet at a glance, computed from live data on every call
 * (permission `devices:read`). Every figure has a list behind it; the console links to it.
 */
export const DashboardSchema = z
  .object({
    generatedAt: IsoDateSchema,
    users: z.object({ total: Count, withoutDevice: Count }),
    devices: z.object({
      total: Count,
      active: Count,
      /** Live (unused, unexpired, unlocked) activation passwords: devices waiting to be activated. */
      pendingActivation: Count,
      /** Active devices whose compliance is `non-compliant`. */
      nonCompliant: Count,
      revoked: Count,
      /** Devices with an open stream now, across every node of the cluster. */
      connectedNow: Count,
    }),
    /** Active devices per platform, largest first. */
    platforms: z.array(z.object({ platform: z.string(), count: Count })),
    /** Active devices per (platform, OS version), largest first, at most 10 rows. */
    osVersions: z.array(z.object({ platform: z.string(), osVersion: z.string(), count: Count })),
    compliance: z.object({
      compliant: Count,
      warning: Count,
      nonCompliant: Count,
      unknown: Count,
      /** Broken rules on active devices, most frequent first, at most 5. */
      topReasons: z.array(z.object({ rule: ComplianceRuleSchema, count: Count })),
    }),
    /** Exactly 30 entries, oldest first, ending today (UTC): devices activated that day. */
    activationsPerDay: z.array(z.object({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), count: Count })),
    commands: z.object({
      /** Queued or delivered, not yet done/failed/expired. */
      pending: Count,
      /** Failed in the last 24 hours. */
      failed24h: Count,
      /** Bulk actions waiting for a second administrator. */
      awaitingApproval: Count,
    }),
    /** Application messages accepted by the server in the last 24 hours (a count; no content). */
    messages24h: Count,
    expiring: z.object({
      /** Active devices whose certificate expires within 30 days. */
      certificates30d: Count,
      /** Live activation passwords that expire within 24 hours. */
      activationPasswords24h: Count,
    }),
    /** The 10 latest audit entries, newest first (empty without `audit:read`). */
    recentAudit: z.array(AuditEntrySchema),
  })
  .meta({ id: 'Dashboard' });
export type Dashboard = z.infer<typeof DashboardSchema>;

/** `GET /api/v1/settings` (`settings:read`); `PATCH` with `SettingsUpdateSchema` (`settings:write`). */
export const SettingsSchema = z
  .object({
    organization: z.string(),
    activation: z.object({
      /** Default lifetime of a new activation password, in hours (1 min – 30 days allowed per password). */
      defaultTtlHours: z.number().int().min(1).max(720),
      /** Upper limit of active devices per user; the lower of it and the policy's `devicesPerUser` applies. */
      defaultDeviceLimit: z.number().int().min(1).max(100),
    }),
    ca: z.object({
      subject: z.string(),
      fingerprint: z.string(),
      notBefore: IsoDateSchema,
      notAfter: IsoDateSchema,
    }),
    tls: z.object({
      subject: z.string(),
      fingerprint: z.string(),
      notBefore: IsoDateSchema,
      notAfter: IsoDateSchema,
      dnsNames: z.array(z.string()),
    }),
  })
  .meta({ id: 'Settings' });
export type Settings = z.infer<typeof SettingsSchema>;
export const SettingsUpdateSchema = z
  .object({
    organization: z.string().trim().min(1).max(100).optional(),
    activation: z
      .object({
        defaultTtlHours: z.number().int().min(1).max(720).optional(),
        defaultDeviceLimit: z.number().int().min(1).max(100).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SettingsUpdate = z.infer<typeof SettingsUpdateSchema>;
