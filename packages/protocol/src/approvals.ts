import { z } from 'zod';
import { CommandRecordSchema, CommandTypeSchema } from './commands.js';
import { EmailSchema, IdSchema, IsoDateSchema } from './common.js';

/**
 * The life of a guarded command: a second administrator approves or denies it; an approved one
 * runs after a cancellable delay; an undecided one expires.
 */
export const ApprovalStateSchema = z.enum([
  'pending_approval',
  'approved',
  'denied',
  'expired',
  'cancelled',
  'executed',
]);
export type ApprovalState = z.infer<typeof ApprovalStateSchema>;

/** `POST /api/v1/commands`: one command for a set of devices, named by id, user or group. */
export const BulkCommandCreateSchema = z
  .object({
    type: CommandTypeSchema,
    deviceIds: z.array(IdSchema).min(1).max(10_000).optional(),
    userEmail: EmailSchema.optional(),
    groupName: z.string().trim().min(1).max(200).optional(),
    /** Shown on the locked screen (lock only). */
    message: z.string().trim().max(500).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict()
  .refine((b) => [b.deviceIds, b.userEmail, b.groupName].filter((x) => x !== undefined).length === 1, {
    message: 'name exactly one target: deviceIds, userEmail or groupName',
  });
export type BulkCommandCreate = z.infer<typeof BulkCommandCreateSchema>;

const AdminRefSchema = z.object({ id: IdSchema.nullable(), email: z.string() });

/** An approval request as administrators see it. */
export const ApprovalSchema = z.object({
  id: IdSchema,
  state: ApprovalStateSchema,
  type: CommandTypeSchema,
  /** How the devices were named: `{ deviceIds }`, `{ userEmail }` or `{ groupName }`. */
  target: z.object({
    deviceIds: z.array(IdSchema).optional(),
    userEmail: z.string().optional(),
    groupName: z.string().optional(),
  }),
  /** The devices resolved when the request was made (active devices only). */
  deviceIds: z.array(IdSchema),
  deviceCount: z.number().int(),
  message: z.string().nullable(),
  reason: z.string().nullable(),
  /** Why it needs a second administrator: `full_wipe` or `over_threshold`. */
  guardrail: z.enum(['full_wipe', 'over_threshold']),
  requestedBy: AdminRefSchema,
  decidedBy: AdminRefSchema.nullable(),
  decisionReason: z.string().nullable(),
  createdAt: IsoDateSchema,
  expiresAt: IsoDateSchema,
  decidedAt: IsoDateSchema.nullable(),
  /** When an approved request runs, unless cancelled first. */
  runAfter: IsoDateSchema.nullable(),
  executedAt: IsoDateSchema.nullable(),
  /** The queued commands, once executed. */
  commandIds: z.array(IdSchema),
});
export type Approval = z.infer<typeof ApprovalSchema>;

export const ApprovalListQuerySchema = z.object({ state: ApprovalStateSchema.optional() }).strict();
export const ApprovalListSchema = z.object({ items: z.array(ApprovalSchema) });
export const ApprovalDecisionSchema = z.object({ reason: z.string().max(500).optional() }).strict();

/** A queued command of a bulk request. */
export const BulkCommandItemSchema = CommandRecordSchema.extend({ deviceId: IdSchema });

/** The answer to a bulk command: the queued commands, or the approval request it became. */
export const BulkCommandResultSchema = z.union([
  z.object({ state: z.literal('queued'), commands: z.array(BulkCommandItemSchema) }),
  ApprovalSchema,
]);
export type BulkCommandResult = z.infer<typeof BulkCommandResultSchema>;
