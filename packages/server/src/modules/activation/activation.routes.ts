import { z } from 'zod';
import {
  ActivationAbortSchema,
  ActivationCreatedSchema,
  ActivationCreateSchema,
  ActivationFinishResultSchema,
  ActivationFinishSchema,
  ActivationInfoSchema,
  ActivationStartResultSchema,
  ActivationStartSchema,
  EmailSchema,
  ErrorBodySchema,
  IdParamsSchema,
  IdSchema,
  OkSchema,
} from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { ActivationService } from './activation.service.js';

/** A user's activation passwords, named by email or (the console's user page) by id. */
const ListQuerySchema = z.union([
  z.object({ email: EmailSchema }).strict(),
  z.object({ userId: IdSchema }).strict(),
]);

export function activationRoutes(activation: ActivationService): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/activations',
      summary: 'Create a one-time activation password (shown once) and its QR payload',
      tag: 'activation',
      auth: 'admin',
      permission: 'activations:create',
      body: ActivationCreateSchema,
      response: ActivationCreatedSchema,
      status: 201,
      handler: ({ body, principal, ip }) => activation.create(body, principal, ip),
    }),
    route({
      method: 'GET',
      url: '/api/v1/activations',
      summary: "A user's activation passwords (never the passwords themselves)",
      tag: 'activation',
      auth: 'admin',
      permission: 'users:read',
      query: ListQuerySchema,
      response: z.object({ items: z.array(ActivationInfoSchema) }),
      handler: ({ query }) => activation.list(query),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/activations/:id',
      summary: 'Revoke an activation password before it is used',
      tag: 'activation',
      auth: 'admin',
      permission: 'activations:create',
      params: IdParamsSchema,
      response: OkSchema,
      handler: ({ params, principal, ip }) => activation.revoke(params.id, principal, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/activation/start',
      summary: 'Device activation, step 1: OPAQUE KE1 → KE2 per candidate record',
      tag: 'activation',
      auth: 'none',
      body: ActivationStartSchema,
      response: ActivationStartResultSchema,
      handler: ({ body, ip }) => activation.start(body.email, body.startLoginRequest, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/activation/finish',
      summary: 'Device activation, step 2: OPAQUE KE3 and the sealed CSR → sealed certificate and CA chain',
      tag: 'activation',
      auth: 'none',
      body: ActivationFinishSchema,
      response: ActivationFinishResultSchema,
      handler: ({ body, ip }) => activation.finish(body, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/activation/abort',
      summary:
        'Device activation: report that no record opened with the typed password (always answers an error)',
      tag: 'activation',
      auth: 'none',
      body: ActivationAbortSchema,
      response: ErrorBodySchema,
      handler: ({ body, ip }) => activation.abort(body.attemptId, ip),
    }),
  ];
}
