import { z } from 'zod';
import { IsoDateSchema, PageQuerySchema } from './common.js';

export const AuditEntrySchema = z
  .object({
    seq: z.number().int(),
    at: IsoDateSchema,
    actorType: z.enum(['admin', 'device', 'system', 'anonymous', 'employee']),
    actorId: z.string().nullable(),
    actorLabel: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    outcome: z.enum(['success', 'failure']),
    details: z.record(z.string(), z.unknown()),
    ip: z.string().nullable(),
    hash: z.string(),
  })
  .meta({ id: 'AuditEntry' });
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
/** A date (`2026-11-26`, midnight UTC) or an ISO date-time, normalised to an ISO date-time. */
const AuditTimeSchema = z
  .string()
  .max(40)
  .regex(/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/, 'a date (YYYY-MM-DD) or an ISO date-time')
  .refine((v) => !Number.isNaN(Date.parse(v)), 'not a valid date')
  .transform((v) => new Date(v).toISOString());
/** Filters of the audit log (list and CSV export): all optional, combined with AND. */
export const AuditFilterSchema = z.object({
  q: z.string().max(200).optional(),
  action: z.string().max(100).optional(),
  /** The actor's id or label (an administrator's email, a device id). */
  actor: z.string().max(200).optional(),
  target: z.string().max(200).optional(),
  /** Entries at or after this time. */
  from: AuditTimeSchema.optional(),
  /** Entries before this time (a bare date means midnight UTC, so it is exclusive). */
  to: AuditTimeSchema.optional(),
});
export type AuditFilter = z.output<typeof AuditFilterSchema>;
export const AuditListQuerySchema = PageQuerySchema.extend(AuditFilterSchema.shape).strict();
export const AuditExportQuerySchema = AuditFilterSchema.strict();
export const AuditPageSchema = z.object({
  items: z.array(AuditEntrySchema),
  total: z.number().int(),
  limit: z.number().int(),
  offset: z.number().int(),
});
export const AuditVerifySchema = z.object({
  ok: z.boolean(),
  entries: z.number().int(),
  firstBadSeq: z.number().int().nullable(),
  reason: z.string().nullable(),
});
export type AuditVerifyResult = z.infer<typeof AuditVerifySchema>;
