import { z } from 'zod';
import { IdSchema, IsoDateSchema } from './common.js';
import { ComplianceActionsSchema } from './compliance.js';

/** A platform name as devices report it at activation (`ios`, `android`, `node-linux`, …). */
export const PolicyPlatformSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,39}$/, 'a platform name: lower-case letters, digits, ".", "_" or "-"');

/** A dotted version such as `17.4` or `1.2.0-beta.1`; compared numerically part by part. */
export const VersionStringSchema = z
  .string()
  .regex(/^\d{1,6}(\.\d{1,6}){0,3}([-+][0-9A-Za-z.-]{1,40})?$/, 'a version such as 1.2.3');

/**
 * Every setting of a policy document with its bounds, without defaults (the shape a patch uses).
 * A `0` in a counter or a day count means "no limit" where the comment says so.
 */
const policyFields = {
  /** The device must have a passcode set. */
  passcodeRequired: z.boolean(),
  /** Shortest passcode the client accepts. */
  minPasscodeLength: z.number().int().min(4).max(64),
  /** Lock the work space after this many idle minutes. */
  autoLockMinutes: z.number().int().min(1).max(1440),
  /** Wipe work data after this many failed unlocks in a row; 0 never wipes. */
  wipeWorkAfterFailedUnlocks: z.number().int().min(0).max(100),
  /** Oldest Enclave client allowed; null allows any. */
  minClientVersion: VersionStringSchema.nullable(),
  /** Oldest OS version allowed, per platform; a platform not listed has no minimum. */
  minOsVersion: z.record(PolicyPlatformSchema, VersionStringSchema),
  /** Platforms a device may run; null allows any. */
  allowedPlatforms: z.array(PolicyPlatformSchema).min(1).max(20).nullable(),
  /** A device not seen for this many days is out of contact; 0 never expires. */
  maxDaysOutOfContact: z.number().int().min(0).max(3650),
  /** Messages disappear from devices after this many days; 0 keeps them. */
  messageRetentionDays: z.number().int().min(0).max(3650),
  /** Attachments may be sent and received. */
  attachmentsAllowed: z.boolean(),
  /** Largest attachment in MB (the server's own limit still applies). */
  maxAttachmentMb: z.number().int().min(1).max(100),
  /** Copy/paste out of the work space (enforced by the client). */
  copyPasteAllowed: z.boolean(),
  /** Screenshots of the work space (enforced by the client). */
  screenshotsAllowed: z.boolean(),
  /** The device must report encrypted storage. */
  deviceEncryptionRequired: z.boolean(),
  /** Rooted or jailbroken devices are allowed. */
  rootedAllowed: z.boolean(),
  /** Most active devices one user may hold. */
  devicesPerUser: z.number().int().min(1).max(50),
  /** Per compliance rule: the action after a grace period; unlisted rules take `COMPLIANCE_ACTION_DEFAULTS`. */
  complianceActions: ComplianceActionsSchema,
};

/** The settings a new policy starts from: a cautious enterprise baseline. */
export const POLICY_DEFAULTS: PolicyDocument = {
  passcodeRequired: true,
  minPasscodeLength: 6,
  autoLockMinutes: 5,
  wipeWorkAfterFailedUnlocks: 10,
  minClientVersion: null,
  minOsVersion: {},
  allowedPlatforms: null,
  maxDaysOutOfContact: 30,
  messageRetentionDays: 0,
  attachmentsAllowed: true,
  maxAttachmentMb: 25,
  copyPasteAllowed: true,
  screenshotsAllowed: true,
  deviceEncryptionRequired: true,
  rootedAllowed: false,
  devicesPerUser: 5,
  complianceActions: {},
};

/** Rules that span two settings. */
function checkDocument(
  doc: { minOsVersion?: Record<string, string> | undefined; allowedPlatforms?: string[] | null | undefined },
  ctx: z.RefinementCtx,
): void {
  const allowed = doc.allowedPlatforms;
  if (!allowed || !doc.minOsVersion) return;
  for (const platform of Object.keys(doc.minOsVersion))
    if (!allowed.includes(platform))
      ctx.addIssue({
        code: 'custom',
        path: ['minOsVersion', platform],
        message: `${platform} is not in allowedPlatforms`,
      });
}

/**
 * A complete policy document; missing settings take `POLICY_DEFAULTS`, unknown ones are rejected.
 *
 * @example
 * PolicyDocumentSchema.parse({ minPasscodeLength: 8 }).autoLockMinutes // 5
 */
export const PolicyDocumentSchema = z
  .object({
    passcodeRequired: policyFields.passcodeRequired.default(true),
    minPasscodeLength: policyFields.minPasscodeLength.default(6),
    autoLockMinutes: policyFields.autoLockMinutes.default(5),
    wipeWorkAfterFailedUnlocks: policyFields.wipeWorkAfterFailedUnlocks.default(10),
    minClientVersion: policyFields.minClientVersion.default(null),
    minOsVersion: policyFields.minOsVersion.default({}),
    allowedPlatforms: policyFields.allowedPlatforms.default(null),
    maxDaysOutOfContact: policyFields.maxDaysOutOfContact.default(30),
    messageRetentionDays: policyFields.messageRetentionDays.default(0),
    attachmentsAllowed: policyFields.attachmentsAllowed.default(true),
    maxAttachmentMb: policyFields.maxAttachmentMb.default(25),
    copyPasteAllowed: policyFields.copyPasteAllowed.default(true),
    screenshotsAllowed: policyFields.screenshotsAllowed.default(true),
    deviceEncryptionRequired: policyFields.deviceEncryptionRequired.default(true),
    rootedAllowed: policyFields.rootedAllowed.default(false),
    devicesPerUser: policyFields.devicesPerUser.default(5),
    complianceActions: policyFields.complianceActions.default({}),
  })
  .strict()
  .superRefine(checkDocument)
  .meta({ id: 'PolicyDocument' });
export type PolicyDocument = z.output<typeof PolicyDocumentSchema>;

/** Some settings of a document, merged over the current ones by an update. */
export const PolicyDocumentPatchSchema = z.object(policyFields).partial().strict();
export type PolicyDocumentPatch = z.infer<typeof PolicyDocumentPatchSchema>;

const PolicyNameSchema = z.string().trim().min(1).max(100);
/** Group ranks: among a user's groups, the policy with the highest rank wins. */
export const PolicyRankSchema = z.number().int().min(0).max(1_000_000);

export const PolicyAssignmentsSchema = z.object({
  users: z.array(z.object({ userId: IdSchema, email: z.string(), assignedAt: IsoDateSchema })),
  groups: z.array(
    z.object({ groupId: IdSchema, name: z.string(), rank: z.number().int(), assignedAt: IsoDateSchema }),
  ),
});

export const PolicySchema = z
  .object({
    id: IdSchema,
    name: z.string(),
    description: z.string(),
    /** Starts at 1 and grows by one on every update, so devices can tell a newer policy. */
    version: z.number().int().min(1),
    document: PolicyDocumentSchema,
    isDefault: z.boolean(),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema,
    assignments: PolicyAssignmentsSchema,
  })
  .meta({ id: 'Policy' });
export type Policy = z.infer<typeof PolicySchema>;
export const PolicyListSchema = z.object({ items: z.array(PolicySchema) });

export const PolicyCreateSchema = z
  .object({
    name: PolicyNameSchema,
    description: z.string().max(1000).default(''),
    document: PolicyDocumentSchema.default(POLICY_DEFAULTS),
  })
  .strict();
export const PolicyUpdateSchema = z
  .object({
    name: PolicyNameSchema.optional(),
    description: z.string().max(1000).optional(),
    /** Merged over the current document; the result is validated as a whole. */
    document: PolicyDocumentPatchSchema.optional(),
  })
  .strict();

/** Assign a policy directly to a user (replacing theirs) or to a group with a rank. */
export const PolicyAssignSchema = z.union([
  z.object({ userId: IdSchema }).strict(),
  z.object({ groupId: IdSchema, rank: PolicyRankSchema }).strict(),
]);
export type PolicyAssign = z.infer<typeof PolicyAssignSchema>;

export const PolicyUserParamsSchema = z.object({ id: IdSchema, userId: IdSchema }).strict();
export const PolicyGroupParamsSchema = z.object({ id: IdSchema, groupId: IdSchema }).strict();

/** `GET /policies/effective`: exactly one of a user or a device. */
export const EffectivePolicyQuerySchema = z
  .object({ userId: IdSchema.optional(), deviceId: IdSchema.optional() })
  .strict()
  .refine((q) => (q.userId === undefined) !== (q.deviceId === undefined), {
    message: 'give exactly one of userId or deviceId',
  });

export const PolicySourceSchema = z.object({
  kind: z.enum(['user', 'group', 'default']),
  groupName: z.string().optional(),
  rank: z.number().int().optional(),
});
export type PolicySource = z.infer<typeof PolicySourceSchema>;

/** Which policy applies to a user, where it came from and why it won. */
export const EffectivePolicySchema = z
  .object({
    userId: IdSchema,
    policy: PolicySchema,
    source: PolicySourceSchema,
    explanation: z.string(),
  })
  .meta({ id: 'EffectivePolicy' });
export type EffectivePolicy = z.infer<typeof EffectivePolicySchema>;

/** What a device receives about its policy (`GET /device/me`). */
export const DevicePolicySchema = z.object({
  id: IdSchema,
  name: z.string(),
  version: z.number().int().min(1),
  document: PolicyDocumentSchema,
  source: PolicySourceSchema,
});
export type DevicePolicy = z.infer<typeof DevicePolicySchema>;

export const PolicyAffectedSchema = z.object({
  items: z.array(
    z.object({ userId: IdSchema, email: z.string(), name: z.string(), source: PolicySourceSchema }),
  ),
  total: z.number().int(),
});
