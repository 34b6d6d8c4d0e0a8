import { z } from 'zod';
import { ErrorBodySchema } from '@enclave/protocol';
import type { RouteSpec } from './route.js';

/** Builds the OpenAPI 3.1 document from the route table and its zod schemas. */
export function buildOpenApi(routes: readonly RouteSpec[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const schema = (s: z.ZodType, io: 'input' | 'output') =>
    z.toJSONSchema(s, { io, unrepresentable: 'any', target: 'draft-2020-12' });
  for (const r of routes) {
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, s] of [
      ['path', r.params],
      ['query', r.query],
    ] as const) {
      if (!s) continue;
      const js = schema(s, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          schema: prop,
        });
      }
    }
    const op: Record<string, unknown> = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${r.url.replace(/\/api\/v1/, '').replace(/[/:.-](\w)/g, (_m, c: string) => c.toUpperCase())}`,
      'x-permission': r.permission ?? null,
      security:
        r.auth === 'none'
          ? []
          : [
              {
                [r.auth === 'admin'
                  ? 'adminBearer'
                  : r.auth === 'employee'
                    ? 'employeeBearer'
                    : 'deviceBearer']: [],
              },
              ...(r.auth === 'admin' ? [{ adminCookie: [] }] : []),
            ],
      parameters,
      responses: {
        [String(r.status ?? 200)]: {
          description: 'success',
          content: r.produces
            ? { [r.produces]: { schema: { type: 'string' } } }
            : r.response
              ? { 'application/json': { schema: schema(r.response, 'output') } }
              : undefined,
        },
        default: {
          description: 'error',
          content: { 'application/json': { schema: schema(ErrorBodySchema, 'output') } },
        },
      },
    };
    if (r.body)
      op.requestBody = {
        required: true,
        content: { 'application/json': { schema: schema(r.body, 'input') } },
      };
    if (r.consumes)
      op.requestBody = { required: true, content: { [r.consumes]: { schema: { type: 'string' } } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Enclave API',
      version,
      description: 'Self-hosted enterprise device management and secure messaging.',
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      securitySchemes: {
        adminBearer: { type: 'http', scheme: 'bearer', description: 'token from POST /api/v1/auth/login' },
        adminCookie: {
          type: 'apiKey',
          in: 'cookie',
          name: 'enclave_session',
          description: 'plus x-csrf-token on unsafe methods',
        },
        employeeBearer: { type: 'http', scheme: 'bearer', description: 'token from POST /api/v1/self/login' },
        deviceBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'token from POST /api/v1/device-auth/token',
        },
      },
    },
  };
}
