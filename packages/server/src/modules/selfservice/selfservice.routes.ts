import { z } from 'zod';
import {
  ActivationCreatedSchema,
  IdParamsSchema,
  InvitationAcceptSchema,
  InvitationCreatedSchema,
  OkSchema,
  SelfCommandSchema,
  SelfDeviceListSchema,
  SelfLoginSchema,
  SelfMeSchema,
  SelfSessionSchema,
} from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { SelfServiceService } from './selfservice.service.js';

const SelfCommandResultSchema = z.object({
  commandId: z.string(),
  type: z.enum(['lock', 'wipe']),
  state: z.literal('queued'),
  createdAt: z.string(),
});

export function selfServiceRoutes(s: SelfServiceService): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/users/:id/invitations',
      summary: 'Invite a user to self-service: a one-time code to set their first password (shown once)',
      tag: 'self-service',
      auth: 'admin',
      permission: 'users:write',
      params: IdParamsSchema,
      response: InvitationCreatedSchema,
      status: 201,
      handler: ({ params, principal, ip }) => s.invite(params.id, principal, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/self/accept-invitation',
      summary: 'Set the first self-service password with an invitation code',
      tag: 'self-service',
      auth: 'none',
      body: InvitationAcceptSchema,
      response: SelfSessionSchema,
      handler: ({ body, ip }) => s.accept(body, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/self/login',
      summary: 'Employee sign-in',
      tag: 'self-service',
      auth: 'none',
      body: SelfLoginSchema,
      response: SelfSessionSchema,
      handler: ({ body, ip }) => s.login(body, ip),
    }),
    route({
      method: 'GET',
      url: '/api/v1/self/me',
      summary:
        'The signed-in employee, their device count and limit, and whether they may create an activation password',
      tag: 'self-service',
      auth: 'employee',
      response: SelfMeSchema,
      handler: ({ principal }) => s.me(principal),
    }),
    route({
      method: 'POST',
      url: '/api/v1/self/logout',
      summary: 'End this self-service session',
      tag: 'self-service',
      auth: 'employee',
      response: OkSchema,
      handler: ({ principal, ip }) => s.logout(principal, ip),
    }),
    route({
      method: 'GET',
      url: '/api/v1/self/devices',
      summary: "The employee's own devices",
      tag: 'self-service',
      auth: 'employee',
      response: SelfDeviceListSchema,
      handler: ({ principal }) => s.devices(principal),
    }),
    route({
      method: 'POST',
      url: '/api/v1/self/activations',
      summary: 'An activation password for a new device of my own',
      tag: 'self-service',
      auth: 'employee',
      response: ActivationCreatedSchema,
      status: 201,
      handler: ({ principal, ip }) => s.createActivation(principal, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/self/devices/:id/commands',
      summary: 'Lock or wipe one of my own devices',
      tag: 'self-service',
      auth: 'employee',
      params: IdParamsSchema,
      body: SelfCommandSchema,
      response: SelfCommandResultSchema,
      status: 201,
      handler: ({ principal, params, body, ip }) => s.command(principal, params.id, body, ip),
    }),
  ];
}
