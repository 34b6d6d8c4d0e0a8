import { z } from 'zod';

export const IdSchema = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, 'a UUID');
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254)
  .pipe(z.email({ message: 'an email address' }));
export const IsoDateSchema = z.string().datetime({ offset: true });
/** Admin passwords: long enough to resist guessing, short enough to bound argon2 input. */
export const PasswordSchema = z.string().min(12, 'at least 12 characters').max(256);
export const IdParamsSchema = z.object({ id: IdSchema }).strict();

export const PageQuerySchema = z
  .object({
    q: z.string().max(200).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  })
  .strict();
export type PageQuery = z.infer<typeof PageQuerySchema>;

/** A page of results with the total that matched. */
export function pageOf<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    total: z.number().int(),
    limit: z.number().int(),
    offset: z.number().int(),
  });
}

export const OkSchema = z.object({ ok: z.literal(true) });
