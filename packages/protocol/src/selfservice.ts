import { z } from 'zod';
import { EmailSchema, IdSchema, IsoDateSchema, PasswordSchema } from './common.js';

/** An invitation an administrator creates so an employee can set a first self-service password. */
export const InvitationCreatedSchema = z.object({
  userEmail: z.string(),
  code: z.string(),
  expiresAt: IsoDateSchema,
});
export const InvitationAcceptSchema = z
  .object({ email: EmailSchema, code: z.string().trim().min(8).max(64), password: PasswordSchema })
  .strict();
export const SelfLoginSchema = z
  .object({ email: EmailSchema, password: z.string().min(1).max(256) })
  .strict();
export const SelfSessionSchema = z.object({ token: z.string(), expiresAt: IsoDateSchema, email: z.string() });
/** `GET /api/v1/self/me`: who is signed in to the portal and whether they may create an activation password. */
export const SelfMeSchema = z.object({
  userId: IdSchema,
  email: z.string(),
  name: z.string(),
  activeDevices: z.number().int().min(0),
  /** The lower of the installation's default device limit and the employee's policy's. */
  deviceLimit: z.number().int().min(1),
  canCreateActivation: z.boolean(),
  sessionExpiresAt: IsoDateSchema,
});

/** One of the employee's own devices, as the portal shows it. */
export const SelfDeviceSchema = z.object({
  id: IdSchema,
  name: z.string(),
  platform: z.string(),
  status: z.string(),
  activatedAt: IsoDateSchema,
  lastContactAt: IsoDateSchema.nullable(),
});
export const SelfDeviceListSchema = z.object({ items: z.array(SelfDeviceSchema) });
/** What an employee may do to their own device. */
export const SelfCommandSchema = z
  .object({ type: z.enum(['lock', 'wipe']), message: z.string().trim().max(500).optional() })
  .strict();
