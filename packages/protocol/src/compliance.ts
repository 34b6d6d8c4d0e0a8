import { z } from 'zod';
import { IsoDateSchema } from './common.js';

/** The stable codes of the compliance rules. */
export const COMPLIANCE_RULES = [
  'os_version_below_minimum',
  'client_version_below_minimum',
  'platform_not_allowed',
  'passcode_not_set',
  'storage_not_encrypted',
  'device_rooted',
  'out_of_contact',
] as const;
export const ComplianceRuleSchema = z.enum(COMPLIANCE_RULES);
export type ComplianceRule = z.infer<typeof ComplianceRuleSchema>;

/** What the server does once a rule has been broken for longer than its grace period. */
export const ComplianceActionSchema = z.enum([
  'notify',
  'block_messaging',
  'quarantine',
  'wipe_work',
  'revoke',
]);
export type ComplianceAction = z.infer<typeof ComplianceActionSchema>;

export const ComplianceActionRuleSchema = z
  .object({ action: ComplianceActionSchema, graceMinutes: z.number().int().min(0).max(525_600) })
  .strict();
export type ComplianceActionRule = z.infer<typeof ComplianceActionRuleSchema>;

/** The action a rule takes when the policy document does not name one. */
export const COMPLIANCE_ACTION_DEFAULTS: Record<ComplianceRule, ComplianceActionRule> = {
  os_version_below_minimum: { action: 'block_messaging', graceMinutes: 60 },
  client_version_below_minimum: { action: 'block_messaging', graceMinutes: 60 },
  platform_not_allowed: { action: 'quarantine', graceMinutes: 0 },
  passcode_not_set: { action: 'block_messaging', graceMinutes: 60 },
  storage_not_encrypted: { action: 'quarantine', graceMinutes: 60 },
  device_rooted: { action: 'quarantine', graceMinutes: 0 },
  out_of_contact: { action: 'block_messaging', graceMinutes: 0 },
};

/** Per-rule overrides in a policy document; a rule not listed takes `COMPLIANCE_ACTION_DEFAULTS`. */
export const ComplianceActionsSchema = z.partialRecord(ComplianceRuleSchema, ComplianceActionRuleSchema);

export const ComplianceStatusSchema = z.enum(['compliant', 'warning', 'non-compliant', 'unknown']);
export type ComplianceStatus = z.infer<typeof ComplianceStatusSchema>;

/** One broken rule on a device: since when, what will happen and when. */
export const ComplianceReasonSchema = z.object({
  code: ComplianceRuleSchema,
  message: z.string(),
  since: IsoDateSchema,
  action: ComplianceActionSchema,
  /** When the grace period ends (the action applies from then on). */
  enforceAt: IsoDateSchema,
  /** When the action was applied; null while inside the grace period. */
  enforcedAt: IsoDateSchema.nullable(),
});
export type ComplianceReason = z.infer<typeof ComplianceReasonSchema>;

/** The answer to a posture report: the device's compliance after evaluation. */
export const ComplianceResultSchema = z
  .object({
    compliance: ComplianceStatusSchema,
    reasons: z.array(ComplianceReasonSchema),
    messagingBlocked: z.boolean(),
    quarantined: z.boolean(),
    evaluatedAt: IsoDateSchema,
  })
  .meta({ id: 'ComplianceResult' });
export type ComplianceResult = z.infer<typeof ComplianceResultSchema>;
