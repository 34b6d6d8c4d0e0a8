import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { roleHasPermission } from '@enclave/protocol';
import { ZodError, type z } from 'zod';
import { isDatabaseUnavailable } from '../db/database.js';
import { AppError, forbidden } from './app-error.js';
import type { AdminPrincipal, DevicePrincipal, EmployeePrincipal, Principal, RouteSpec } from './route.js';

/** Resolves who is calling. Implemented by the auth and device modules; platform knows only this shape. */
export interface Authenticator {
  admin(request: FastifyRequest): Promise<AdminPrincipal>;
  device(request: FastifyRequest): Promise<DevicePrincipal>;
  employee?(request: FastifyRequest): Promise<EmployeePrincipal>;
}

function parseWith<T>(schema: z.ZodType<T> | undefined, value: unknown, where: string): T {
  if (!schema) return undefined as T;
  const result = schema.safeParse(value ?? (where === 'body' ? undefined : {}));
  if (result.success) return result.data;
  throw validationError(result.error, where);
}

/** Turns a zod error into our 400 with one detail per issue (path and message, never the value). */
export function validationError(error: ZodError, where: string): AppError {
  const details = error.issues.map((i) => ({
    path: [where, ...i.path.map(String)].join('.'),
    message: i.code === 'unrecognized_keys' ? `unknown field(s): ${i.keys.join(', ')}` : i.message,
  }));
  const first = details[0];
  return new AppError(
    400,
    'validation_failed',
    first ? `${first.path}: ${first.message}` : `invalid ${where}`,
    { details },
  );
}

/** Registers the route table on Fastify: authentication, permission, schema parsing, then the handler. */
export function registerRoutes(
  app: FastifyInstance,
  routes: readonly RouteSpec[],
  auth: Authenticator,
): void {
  for (const spec of routes) {
    app.route({
      method: spec.method,
      url: spec.url,
      ...(spec.bodyLimit ? { bodyLimit: spec.bodyLimit } : {}),
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        let principal: Principal = { kind: 'anonymous' };
        if (spec.auth === 'admin') {
          const admin = await auth.admin(request);
          if (spec.permission && !roleHasPermission(admin.role, spec.permission)) {
            throw forbidden(`the ${admin.role} role does not have the ${spec.permission} permission`);
          }
          principal = admin;
        } else if (spec.auth === 'employee') {
          if (!auth.employee) throw new AppError(404, 'not_found', 'self-service is not enabled');
          principal = await auth.employee(request);
        } else if (spec.auth === 'device') {
          principal = await auth.device(request);
        }
        if (spec.consumes && request.method !== 'GET') {
          const type = String(request.headers['content-type'] ?? '')
            .split(';')[0]
            ?.trim();
          if (type !== spec.consumes)
            throw new AppError(415, 'unsupported_media_type', `send the body as ${spec.consumes}`);
        }
        const body = spec.consumes ? request.body : parseWith(spec.body, request.body, 'body');
        if (
          !spec.body &&
          !spec.consumes &&
          request.body !== undefined &&
          request.body !== null &&
          request.method !== 'GET'
        ) {
          const empty = typeof request.body === 'object' && Object.keys(request.body).length === 0;
          if (!empty) throw new AppError(400, 'validation_failed', 'this endpoint takes no body');
        }
        const query = parseWith(spec.query, request.query, 'query');
        const params = parseWith(spec.params, request.params, 'params');
        const result = await spec.handler({ body, query, params, principal, ip: request.ip, request, reply });
        if (reply.sent) return reply; // the handler answered itself (e.g. /readyz with 503)
        reply.code(spec.status ?? 200);
        if (spec.produces && !reply.getHeader('content-type')) reply.type(spec.produces);
        return result;
      },
    });
  }
}

/** The single error handler: stable codes, 4xx for every client mistake, 5xx only for our own faults. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | AppError | ZodError, request, reply) => {
    if (err instanceof AppError) {
      return reply.code(err.status).send({
        error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) },
      });
    }
    if (err instanceof ZodError) {
      const e = validationError(err, 'body');
      return reply.code(400).send({ error: { code: e.code, message: e.message, details: e.details } });
    }
    const fe = err;
    const code = fe.code ?? '';
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({
        error: { code: 'body_too_large', message: 'the request body is larger than the server accepts' },
      });
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({
        error: { code: 'unsupported_media_type', message: 'send JSON with Content-Type: application/json' },
      });
    }
    if (code.startsWith('FST_ERR_CTP_') || (fe.statusCode === 400 && err instanceof SyntaxError)) {
      return reply
        .code(400)
        .send({ error: { code: 'invalid_json', message: 'the request body is not valid JSON' } });
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      return reply.code(fe.statusCode).send({ error: { code: 'bad_request', message: fe.message } });
    }
    if (isDatabaseUnavailable(err)) {
      // Fail fast and say so: the node reconnects by itself when the database returns.
      request.log.warn(
        { err: { code: (err as { code?: string }).code, message: err.message } },
        'database unavailable',
      );
      return reply
        .code(503)
        .header('retry-after', '5')
        .send({
          error: {
            code: 'database_unavailable',
            message: 'the database is not reachable; try again shortly',
          },
        });
    }
    request.log.error({ err }, 'unhandled error');
    return reply
      .code(500)
      .send({ error: { code: 'internal_error', message: 'internal error; the server log has the details' } });
  });
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).send({
      error: { code: 'not_found', message: `no route ${request.method} ${request.url.split('?')[0]}` },
    });
  });
}
