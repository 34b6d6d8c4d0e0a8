import type { z } from 'zod';
import { ApiError } from './transport.js';

/**
 * Parses an outgoing body with its protocol schema before it leaves the SDK, so bad input fails
 * fast with the same `validation_failed` code the server would answer, and defaults are applied.
 */
export function requestBody<S extends z.ZodType>(schema: S, input: z.input<S>): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new ApiError(0, 'validation_failed', `${where}${issue?.message ?? 'invalid input'}`);
}

/** Appends the defined entries of `params` to `path` as a query string. */
export function withQuery(
  path: string,
  params: Record<string, string | number | boolean | undefined>,
): string {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** Encodes one path segment (an id) so it cannot change the route. */
export function segment(id: string): string {
  return encodeURIComponent(id);
}
