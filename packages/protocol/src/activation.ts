import { z } from 'zod';
import { EmailSchema, IdSchema, IsoDateSchema } from './common.js';

/** Expiry bounds of an activation password: 1 minute to 30 days, 48 hours by default. */
export const ACTIVATION_MIN_TTL_S = 60;
export const ACTIVATION_MAX_TTL_S = 30 * 24 * 3600;
export const ACTIVATION_DEFAULT_TTL_S = 48 * 3600;
/** Wrong tries after which an activation password is dead. */
export const ACTIVATION_MAX_ATTEMPTS = 5;

export const ActivationCreateSchema = z
  .object({
    email: EmailSchema,
    /** Omitted: the installation's default (`GET /api/v1/settings`, 48 hours unless changed). */
    expiresInSeconds: z.number().int().min(ACTIVATION_MIN_TTL_S).max(ACTIVATION_MAX_TTL_S).optional(),
  })
  .strict();

export const ActivationStatusSchema = z.enum(['live', 'used', 'expired', 'locked']);
export const ActivationInfoSchema = z
  .object({
    id: IdSchema,
    userEmail: z.string(),
    status: ActivationStatusSchema,
    failedAttempts: z.number().int(),
    expiresAt: IsoDateSchema,
    createdAt: IsoDateSchema,
    usedAt: IsoDateSchema.nullable(),
  })
  .meta({ id: 'Activation' });

/** Returned once, at creation: the only time the password exists outside the admin's screen. */
export const ActivationCreatedSchema = ActivationInfoSchema.extend({
  password: z.string(),
  qr: z.string(),
});

/** The payload of an activation QR code. */
export const ActivationQrSchema = z.object({
  v: z.literal(1),
  server: z.string(),
  email: z.string(),
  password: z.string(),
  caFingerprint: z.string(),
});

const B64Url = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/)
  .max(4096);

/** Step 1 of device activation: OPAQUE KE1. The password itself never leaves the device. */
export const ActivationStartSchema = z.object({ email: EmailSchema, startLoginRequest: B64Url }).strict();
/** One OPAQUE KE2 per candidate activation record of the user; the device finds the one its password opens. */
export const ActivationStartResultSchema = z.object({
  attemptId: IdSchema,
  loginResponses: z.array(B64Url).min(1).max(20),
});

/** Step 2: OPAQUE KE3 for the matching record, and the CSR sealed under the OPAQUE session key. */
export const ActivationFinishSchema = z
  .object({
    attemptId: IdSchema,
    index: z.number().int().min(0).max(19),
    finishLoginRequest: B64Url,
    sealed: B64Url,
  })
  .strict();
/** What the device sends inside `sealed`. */
export const ActivationRequestSchema = z
  .object({
    csr: z.string().max(8192),
    platform: z.string().trim().min(1).max(40),
    clientVersion: z.string().trim().min(1).max(40),
    deviceName: z.string().trim().max(100).optional(),
  })
  .strict();
export type ActivationRequest = z.infer<typeof ActivationRequestSchema>;
export const ActivationFinishResultSchema = z.object({ sealed: B64Url });
/** What the server returns inside `sealed`: the device learns the CA over the OPAQUE channel, not over TLS. */
export const ActivationGrantSchema = z.object({
  deviceId: IdSchema,
  certificate: z.string(),
  chain: z.array(z.string()),
  caFingerprint: z.string(),
  userEmail: z.string(),
});
export type ActivationGrant = z.infer<typeof ActivationGrantSchema>;

/** The device reports that none of the records opened with its password (counted at start anyway). */
export const ActivationAbortSchema = z.object({ attemptId: IdSchema }).strict();

/**
 * The canonical form of a typed activation password: upper case, no spaces. OPAQUE needs the exact
 * same bytes on both sides, so the device normalises what a person typed before using it.
 */
export function normalizeActivationPassword(typed: string): string {
  return typed.replace(/\s+/g, '').toUpperCase();
}
