import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { ErrorBodySchema, type ErrorCode } from '@enclave/protocol';

/** One HTTP request as the SDK sees it: a path under the server, never a full URL with secrets. */
export interface TransportRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  /** Sent as-is instead of JSON (e.g. CSV import). */
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** A streamed body (attachments), sent as application/octet-stream without buffering it. */
  bodyStream?: Readable;
  /** Where a successful response body is streamed instead of into `text` (attachments). */
  sink?: Writable;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string | undefined>;
  text: string;
}

/** Anything that can carry a request to an Enclave server: HTTPS in production, `app.inject` in tests. */
export type Transport = (req: TransportRequest) => Promise<TransportResponse>;

/** An error answered by the server (or raised by the SDK) with a stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network_error' | 'protocol_error' | 'server_untrusted',
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface HttpsTransportOptions {
  /** `https://host:port` */
  baseUrl: string;
  /** PEM chain to trust for TLS (the enterprise CA). */
  ca?: string;
  /**
   * Skip TLS verification. Only for the bootstrap steps whose security does not rest on TLS: fetching
   * the CA to compare against a fingerprint the operator gave, and OPAQUE activation.
   */
  insecure?: boolean;
}

/**
 * HTTPS transport pinned to the enterprise CA.
 * @example const t = httpsTransport({ baseUrl: 'https://127.0.0.1:8443', ca: fs.readFileSync('ca.pem', 'utf8') });
 */
export function httpsTransport(opts: HttpsTransportOptions): Transport {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'https:')
    throw new ApiError(0, 'network_error', `server URL must start with https:// (got ${base.protocol})`);
  const dispatcher = new Agent({
    connect: { ca: opts.ca, rejectUnauthorized: !opts.insecure },
    keepAliveTimeout: 10_000,
  });
  return async (req) => {
    const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
    let body: string | undefined;
    let stream: Readable | undefined;
    if (req.bodyStream) {
      stream = req.bodyStream;
      headers['content-type'] = 'application/octet-stream';
    } else if (req.rawBody !== undefined) {
      body = req.rawBody;
      headers['content-type'] = req.contentType ?? 'text/plain';
    } else if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    try {
      const res = await request(new URL(req.path, base), {
        method: req.method,
        headers,
        body: stream ?? body,
        dispatcher,
      });
      let text = '';
      if (req.sink && res.statusCode < 400) await pipeline(res.body, req.sink);
      else text = await res.body.text();
      const outHeaders: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(res.headers)) outHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
      return { status: res.statusCode, headers: outHeaders, text };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const hint =
        e.code?.includes('CERT') ||
        e.code?.includes('SELF_SIGNED') ||
        e.code === 'DEPTH_ZERO_SELF_SIGNED_CERT'
          ? ' (the server is not signed by the pinned enterprise CA)'
          : '';
      throw new ApiError(
        0,
        'network_error',
        `cannot reach ${base.origin}: ${e.code ?? e.message ?? 'unknown error'}${hint}`,
      );
    }
  };
}

/** Parses a JSON response, or throws the server's error as an {@link ApiError}. */
export function parseResponse(res: TransportResponse): unknown {
  let json: unknown;
  try {
    json = res.text.length ? JSON.parse(res.text) : undefined;
  } catch {
    throw new ApiError(
      res.status,
      'protocol_error',
      `server answered ${res.status} with a body that is not JSON`,
    );
  }
  if (res.status >= 400) {
    const parsed = ErrorBodySchema.safeParse(json);
    if (parsed.success) throw new ApiError(res.status, parsed.data.error.code, parsed.data.error.message);
    throw new ApiError(res.status, 'protocol_error', `server answered ${res.status}`);
  }
  return json;
}

/** Sends a request and parses the answer with `schema`. */
export async function call<T>(
  transport: Transport,
  req: TransportRequest,
  schema: { parse(v: unknown): T },
): Promise<T> {
  const json = parseResponse(await transport(req));
  try {
    return schema.parse(json);
  } catch {
    throw new ApiError(0, 'protocol_error', `unexpected response shape from ${req.method} ${req.path}`);
  }
}
