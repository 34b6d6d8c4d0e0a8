import type { ErrorCode } from '@enclave/protocol';

/** The one error type a service throws; the HTTP error handler renders it as `{ error: { code, message } }`. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: { path: string; message: string }[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.details = options?.details;
  }
  readonly details: { path: string; message: string }[] | undefined;
}

export const notFound = (what: string) => new AppError(404, 'not_found', `${what} not found`);
export const forbidden = (message = 'your role does not allow this') =>
  new AppError(403, 'forbidden', message);
export const unauthenticated = (message = 'sign in first') => new AppError(401, 'unauthenticated', message);
