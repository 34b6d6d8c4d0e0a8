import { z } from 'zod';
import {
  ApprovalSchema,
  CommandAckResultSchema,
  CommandAckSchema,
  DeviceChallengeResultSchema,
  DeviceChallengeSchema,
  DeviceCommandCreateSchema,
  DeviceCommandSchema,
  DeviceDetailSchema,
  DeviceListQuerySchema,
  DevicePageSchema,
  DeviceSelfSchema,
  DeviceTokenRequestSchema,
  DeviceTokenSchema,
  IdParamsSchema,
} from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { DeviceAuthService } from './device-auth.service.js';
import type { CommandService } from './command.service.js';
import type { DeviceService } from './device.service.js';

export function deviceRoutes(
  devices: DeviceService,
  deviceAuth: DeviceAuthService,
  commands: CommandService,
): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/devices',
      summary: 'Device inventory',
      tag: 'devices',
      auth: 'admin',
      permission: 'devices:read',
      query: DeviceListQuerySchema,
      response: DevicePageSchema,
      handler: ({ query }) => devices.list(query),
    }),
    route({
      method: 'GET',
      url: '/api/v1/devices/:id',
      summary: 'One device with its command history',
      tag: 'devices',
      auth: 'admin',
      permission: 'devices:read',
      params: IdParamsSchema,
      response: DeviceDetailSchema,
      handler: ({ params }) => devices.get(params.id),
    }),
    route({
      method: 'POST',
      url: '/api/v1/devices/:id/commands',
      summary:
        'Send a signed remote command (lock, unlock, wipe-work, wipe, revoke, ping); a full wipe becomes an approval request',
      tag: 'devices',
      auth: 'admin',
      permission: 'devices:lock',
      params: IdParamsSchema,
      body: DeviceCommandCreateSchema,
      response: z.union([DeviceCommandSchema, ApprovalSchema]),
      status: 201,
      handler: ({ params, body, principal, ip }) =>
        devices.command(params.id, body.type, principal, ip, { reason: body.reason, message: body.message }),
    }),
    route({
      method: 'POST',
      url: '/api/v1/device/commands/:id/ack',
      summary: "The device's report on a command: acknowledged (verified), done, or failed with the reason",
      tag: 'device',
      auth: 'device',
      params: IdParamsSchema,
      body: CommandAckSchema,
      response: CommandAckResultSchema,
      handler: ({ principal, params, body, ip }) =>
        commands.ack(principal.deviceId, params.id, body.state, body.reason, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/device-auth/challenge',
      summary: 'Device authentication, step 1: get a nonce',
      tag: 'device',
      auth: 'none',
      body: DeviceChallengeSchema,
      response: DeviceChallengeResultSchema,
      handler: ({ body }) => deviceAuth.challenge(body.deviceId),
    }),
    route({
      method: 'POST',
      url: '/api/v1/device-auth/token',
      summary: 'Device authentication, step 2: signed nonce for a short-lived token',
      tag: 'device',
      auth: 'none',
      body: DeviceTokenRequestSchema,
      response: DeviceTokenSchema,
      handler: ({ body, ip }) => deviceAuth.token(body.challengeId, body.signature, ip),
    }),
    route({
      method: 'GET',
      url: '/api/v1/device/me',
      summary: "The device's own status and pending commands",
      tag: 'device',
      auth: 'device',
      response: DeviceSelfSchema,
      handler: ({ principal }) => deviceAuth.me(principal),
    }),
  ];
}
