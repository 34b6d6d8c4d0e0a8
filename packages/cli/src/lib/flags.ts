import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { IdSchema, RoleSchema, ROLES } from '@enclave/protocol';
import { isFingerprint, normalizeFingerprint } from '@enclave/client';
import { CliError } from './cli-error.js';

/** Flags every command accepts. */
export const CommonFlags = { json: z.boolean().optional() } as const;
/** Flags of commands that use the saved admin session. */
export const ConfigFlags = { ...CommonFlags, config: z.string().min(1).optional() } as const;

/** `--server URL`: an https URL, reduced to its origin. */
export const ServerUrlFlag = z.string().transform((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a URL — use e.g. https://enclave.example.com:8443`,
    });
    return z.NEVER;
  }
  if (url.protocol !== 'https:') {
    ctx.addIssue({
      code: 'custom',
      message: `the server URL must start with https:// (got ${url.protocol}//)`,
    });
    return z.NEVER;
  }
  return url.origin;
});

/** `--ca-fingerprint FP`: SHA-256 hex, colons and case allowed; normalised. */
export const FingerprintFlag = z
  .string()
  .refine(isFingerprint, 'a SHA-256 fingerprint is 64 hex digits (as printed by `enclave init`)')
  .transform(normalizeFingerprint);

/** `--role R`. */
export const RoleFlag = z
  .string()
  .refine((r) => (ROLES as readonly string[]).includes(r), `must be one of ${ROLES.join(', ')}`)
  .pipe(RoleSchema);

/** `--limit N` / `--offset N` from strings. */
export const LimitFlag = z.coerce.number().int().min(1).max(500);
export const OffsetFlag = z.coerce.number().int().min(0);

/** Parses commander's option values with a zod object; errors become `usage_error` naming the flag. */
export function parseFlags<S extends z.ZodType>(schema: S, values: unknown): z.output<S> {
  return schema.parse(values); // ZodError is rendered by toErrorInfo as `--flag: message (usage_error)`
}

/** Validates a positional argument. */
export function parseArg<S extends z.ZodType>(schema: S, value: unknown, name: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new CliError('usage_error', `${name}: ${r.error.issues[0]?.message ?? 'invalid'}`);
}

/** A UUID argument. */
export function parseId(value: unknown, name = 'ID'): string {
  const r = IdSchema.safeParse(value);
  if (r.success) return r.data;
  throw new CliError('usage_error', `${name} must be a UUID (got "${String(value)}")`);
}

/** Collector for repeatable options (`--group A --group B`). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/**
 * Reads a secret (password) from a file: the first line, without its line ending. Passwords are
 * never taken from argv, where other users can read them in the process list.
 */
export async function readSecretFile(path: string, flag: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(
      'file_unreadable',
      `cannot read ${flag} ${path} (${code}) — put the password on the first line of that file`,
    );
  }
  const secret = text.split(/\r?\n/, 1)[0] ?? '';
  if (!secret)
    throw new CliError('usage_error', `${flag} ${path} is empty — put the password on its first line`);
  return secret;
}

/** Reads a text file given by a flag (e.g. a CSV to import). */
export async function readTextFile(path: string, flag: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError('file_unreadable', `cannot read ${flag} ${path} (${code})`);
  }
}
