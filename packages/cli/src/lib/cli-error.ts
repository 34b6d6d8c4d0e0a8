import { CommanderError } from 'commander';
import { ZodError } from 'zod';
import { ApiError, DeviceStoreError } from '@enclave/client';

/** An error raised by the CLI itself (bad flags, no session, unreadable file…), with a stable code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The `{ code, message }` of a failure, as printed on stderr and in `--json` output. */
export interface ErrorInfo {
  code: string;
  message: string;
}

/** Converts a camelCase option key to the flag a user typed (`passwordFile` → `--password-file`). */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** Maps anything thrown by a command to its stable code and a one-line message. */
export function toErrorInfo(err: unknown): ErrorInfo {
  if (err instanceof ApiError || err instanceof CliError || err instanceof DeviceStoreError)
    return { code: err.code, message: oneLine(err.message) };
  if (err instanceof CommanderError)
    return { code: 'usage_error', message: oneLine(err.message.replace(/^error:\s*/, '')) };
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const key = issue?.path[0];
    const where = typeof key === 'string' ? `${flagName(key)}: ` : '';
    return { code: 'usage_error', message: oneLine(`${where}${issue?.message ?? 'invalid input'}`) };
  }
  if (err instanceof Error) return { code: 'internal_error', message: oneLine(err.message || err.name) };
  return { code: 'internal_error', message: oneLine(String(err)) };
}

/** Collapses whitespace so a message always fits the one-line error contract. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** The stderr line for a failure: `error: <message> (<code>)`. */
export function formatErrorLine(info: ErrorInfo): string {
  return `error: ${oneLine(info.message)} (${info.code})`;
}

/** The `--json` stdout document for a failure: `{"error":{"code","message"}}`. */
export function formatErrorJson(info: ErrorInfo): string {
  return JSON.stringify({ error: { code: info.code, message: oneLine(info.message) } });
}
