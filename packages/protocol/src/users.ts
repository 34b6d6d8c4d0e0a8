import { z } from 'zod';
import { EmailSchema, IdSchema, IsoDateSchema, PageQuerySchema, pageOf } from './common.js';

const NameSchema = z.string().trim().min(1).max(200);
const GroupNameSchema = z.string().trim().min(1).max(100);

export const UserSchema = z
  .object({
    id: IdSchema,
    email: z.string(),
    name: z.string(),
    groups: z.array(z.string()),
    deviceCount: z.number().int(),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema,
  })
  .meta({ id: 'User' });
export type User = z.infer<typeof UserSchema>;

export const UserCreateSchema = z
  .object({ email: EmailSchema, name: NameSchema, groups: z.array(GroupNameSchema).max(50).optional() })
  .strict();
export const UserUpdateSchema = z
  .object({
    email: EmailSchema.optional(),
    name: NameSchema.optional(),
    groups: z.array(GroupNameSchema).max(50).optional(),
  })
  .strict();
export const UserListQuerySchema = PageQuerySchema.extend({
  group: GroupNameSchema.optional(),
  /** `true`: only users without an active device (the dashboard's "without device" figure). */
  withoutDevice: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
}).strict();
export const UserPageSchema = pageOf(UserSchema);

export const UserImportRowErrorSchema = z.object({
  row: z.number().int(),
  email: z.string().optional(),
  code: z.string(),
  message: z.string(),
});
export const UserImportResultSchema = z.object({
  imported: z.number().int(),
  failed: z.number().int(),
  errors: z.array(UserImportRowErrorSchema),
});
export type UserImportResult = z.infer<typeof UserImportResultSchema>;

export const GroupSchema = z
  .object({
    id: IdSchema,
    name: z.string(),
    description: z.string(),
    memberCount: z.number().int(),
    createdAt: IsoDateSchema,
  })
  .meta({ id: 'Group' });
export type Group = z.infer<typeof GroupSchema>;
export const GroupCreateSchema = z
  .object({ name: GroupNameSchema, description: z.string().max(1000).default('') })
  .strict();
export const GroupUpdateSchema = z
  .object({ name: GroupNameSchema.optional(), description: z.string().max(1000).optional() })
  .strict();
export const GroupPageSchema = pageOf(GroupSchema);
