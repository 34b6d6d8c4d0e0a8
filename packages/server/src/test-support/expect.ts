import assert from 'node:assert/strict';
import { type ErrorBody, ErrorBodySchema, type ErrorCode } from '@enclave/protocol';
import type { z } from 'zod';

/** The part of an `inject` answer the assertions read. */
export interface Answer {
  status: number;
  json: unknown;
  text: string;
}

const ErrorOnlySchema = ErrorBodySchema.strict();

/**
 * Asserts that the answer is the one error shape `{ error: { code, message } }` with `status` and
 * the stable `code`, and returns the error for further checks.
 */
export function assertError(res: Answer, status: number, code: ErrorCode): ErrorBody['error'] {
  assert.equal(
    res.status,
    status,
    `expected ${status} ${code}, got ${res.status}: ${res.text.slice(0, 400)}`,
  );
  const parsed = ErrorOnlySchema.safeParse(res.json);
  assert.ok(parsed.success, `not an error body { error: { code, message } }: ${res.text.slice(0, 400)}`);
  assert.equal(parsed.data.error.code, code, `expected code ${code}: ${res.text.slice(0, 400)}`);
  assert.ok(parsed.data.error.message.length > 0, 'the error message is empty');
  return parsed.data.error;
}

/** Asserts a client error (4xx, never 5xx) rendered as `{ error: { code, message } }`; returns the error. */
export function assertClientError(res: Answer): ErrorBody['error'] {
  assert.ok(
    res.status >= 400 && res.status < 500,
    `expected a 4xx, got ${res.status}: ${res.text.slice(0, 400)}`,
  );
  const parsed = ErrorOnlySchema.safeParse(res.json);
  assert.ok(parsed.success, `not an error body { error: { code, message } }: ${res.text.slice(0, 400)}`);
  return parsed.data.error;
}

/** Asserts `status` and parses the body with `schema` (so its shape is checked too). */
export function assertBody<S extends z.ZodType>(res: Answer, status: number, schema: S): z.output<S> {
  assert.equal(res.status, status, `expected ${status}, got ${res.status}: ${res.text.slice(0, 400)}`);
  const parsed = schema.safeParse(res.json);
  assert.ok(parsed.success, `unexpected body: ${res.text.slice(0, 400)}`);
  return parsed.data;
}
