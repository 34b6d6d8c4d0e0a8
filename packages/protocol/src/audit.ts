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
export const AuditListQuerySchema = PageQuerySchema.extend({
  action: z.string().max(100).optional(),
}).strict();
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
