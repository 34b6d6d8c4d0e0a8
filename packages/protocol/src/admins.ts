import { z } from 'zod';
import { EmailSchema, IdSchema, IsoDateSchema, PasswordSchema } from './common.js';
import { PERMISSIONS, RoleSchema } from './roles.js';

export const AdminSchema = z
  .object({
    id: IdSchema,
    email: z.string(),
    role: RoleSchema,
    totpEnabled: z.boolean(),
    createdAt: IsoDateSchema,
  })
  .meta({ id: 'Admin' });
export type Admin = z.infer<typeof AdminSchema>;
/** `GET /api/v1/auth/me`: the signed-in administrator, what their role may do, and when the session ends. */
export const AdminMeSchema = AdminSchema.extend({
  permissions: z.array(z.enum(PERMISSIONS)),
  sessionExpiresAt: IsoDateSchema,
}).meta({ id: 'AdminMe' });
export type AdminMe = z.infer<typeof AdminMeSchema>;

export const AdminCreateSchema = z
  .object({ email: EmailSchema, role: RoleSchema, password: PasswordSchema })
  .strict();
export const AdminUpdateSchema = z.object({ role: RoleSchema }).strict();
export const AdminListSchema = z.object({ items: z.array(AdminSchema) });

/** Admin sign-in. `totp` is required once TOTP is enrolled. */
export const LoginSchema = z
  .object({
    email: EmailSchema,
    password: z.string().min(1).max(256),
    totp: z
      .string()
      .regex(/^\d{6}$/, 'six digits')
      .optional(),
  })
  .strict();
export const LoginResultSchema = z.object({
  token: z.string(),
  csrfToken: z.string(),
  expiresAt: IsoDateSchema,
  admin: AdminSchema,
});

export const TotpEnrollResultSchema = z.object({ secret: z.string(), otpauthUrl: z.string() });
export const TotpConfirmSchema = z.object({ code: z.string().regex(/^\d{6}$/, 'six digits') }).strict();

/** First Security Administrator, from the one-time setup code printed at first start. */
export const SetupSchema = z
  .object({ code: z.string().min(1).max(100), email: EmailSchema, password: PasswordSchema })
  .strict();
