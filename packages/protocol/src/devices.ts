import { CommandRecordSchema, CommandTypeSchema, SignedCommandSchema } from './commands.js';
import { z } from 'zod';
import { IdSchema, IsoDateSchema, PageQuerySchema, pageOf } from './common.js';
import {
  DevicePolicySchema,
  PolicyPlatformSchema,
  PolicySourceSchema,
  VersionStringSchema,
} from './policies.js';
import { ComplianceReasonSchema, ComplianceStatusSchema } from './compliance.js';

export const DeviceStatusSchema = z.enum(['active', 'revoked']);
export const DeviceSchema = z
  .object({
    id: IdSchema,
    userId: IdSchema,
    userEmail: z.string(),
    name: z.string(),
    platform: z.string(),
    clientVersion: z.string(),
    status: DeviceStatusSchema,
    compliance: ComplianceStatusSchema,
    /** The rules the device breaks, once it has been evaluated. */
    complianceReasons: z.array(ComplianceReasonSchema).optional(),
    certificateSerial: z.string(),
    certificateNotAfter: IsoDateSchema,
    activatedAt: IsoDateSchema,
    lastContactAt: IsoDateSchema.nullable(),
    revokedAt: IsoDateSchema.nullable(),
  })
  .meta({ id: 'Device' });
export type Device = z.infer<typeof DeviceSchema>;

export const DeviceCommandTypeSchema = CommandTypeSchema;
export const DeviceCommandSchema = CommandRecordSchema;
/** What a device reports about itself (`POST /api/v1/device/posture`). */
export const PostureReportSchema = z
  .object({
    platform: PolicyPlatformSchema,
    osVersion: VersionStringSchema,
    clientVersion: VersionStringSchema,
    passcodeSet: z.boolean(),
    storageEncrypted: z.boolean(),
    rooted: z.boolean(),
  })
  .strict()
  .meta({ id: 'PostureReport' });
export type PostureReport = z.infer<typeof PostureReportSchema>;

export const DeviceDetailSchema = DeviceSchema.extend({
  certificate: z.string(),
  commands: z.array(DeviceCommandSchema),
  /** Conversations the device is a member of (a count; the server never shows their content). */
  conversations: z.number().int().min(0),
  /** The device's last posture report (null until it sends one). */
  posture: PostureReportSchema.extend({ reportedAt: IsoDateSchema }).nullable(),
  /** The effective policy of the device's user, which assignment it came from and why it won. */
  policy: z.object({
    id: IdSchema,
    name: z.string(),
    version: z.number().int(),
    source: PolicySourceSchema,
    explanation: z.string(),
  }),
});
export const DeviceListQuerySchema = PageQuerySchema.extend({
  status: DeviceStatusSchema.optional(),
  userId: IdSchema.optional(),
  platform: z.string().max(40).optional(),
  compliance: ComplianceStatusSchema.optional(),
  /** Devices last seen before this time (never seen: their activation time counts) — "out of contact". */
  lastContactBefore: IsoDateSchema.optional(),
  /** Devices seen at or after this time. */
  lastContactAfter: IsoDateSchema.optional(),
}).strict();
export const DevicePageSchema = pageOf(DeviceSchema);
export const DeviceCommandCreateSchema = z
  .object({
    type: DeviceCommandTypeSchema,
    /** Shown on the locked screen (lock only). */
    message: z.string().trim().max(500).optional(),
    reason: z.string().max(500).optional(),
  })
  .strict();

/** Device authentication, step 1: ask for a nonce to sign. */
export const DeviceChallengeSchema = z.object({ deviceId: IdSchema }).strict();
export const DeviceChallengeResultSchema = z.object({
  challengeId: IdSchema,
  nonce: z.string(),
  expiresAt: IsoDateSchema,
});
/** Step 2: the Ed25519 signature over the challenge's signing input, with the device certificate. */
export const DeviceTokenRequestSchema = z
  .object({
    challengeId: IdSchema,
    signature: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/)
      .max(200),
  })
  .strict();
export const DeviceTokenSchema = z.object({
  token: z.string(),
  expiresAt: IsoDateSchema,
  deviceId: IdSchema,
});

/** What `GET /api/v1/device/me` tells an authenticated device about itself. */
export const DeviceSelfSchema = z.object({
  deviceId: IdSchema,
  userEmail: z.string(),
  status: DeviceStatusSchema,
  compliance: z.string(),
  /** The rules the device breaks, with the action each leads to. */
  complianceReasons: z.array(ComplianceReasonSchema).optional(),
  /** The device's effective policy, with where it came from. */
  policy: DevicePolicySchema,
  /** Commands waiting for this device, signed by the server's command key. */
  commands: z.array(SignedCommandSchema),
});

/**
 * The bytes a device signs to authenticate: domain-separated so a signature made for this purpose
 * can never be replayed as an MLS or command signature.
 */
export function deviceAuthSigningInput(challengeId: string, nonce: string, deviceId: string): string {
  return `enclave-device-auth-v1\n${challengeId}\n${nonce}\n${deviceId}`;
}
