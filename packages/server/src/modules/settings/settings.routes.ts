import { SettingsSchema, SettingsUpdateSchema } from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { SettingsService } from './settings.service.js';

export function settingsRoutes(settings: SettingsService): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/settings',
      summary: 'Organisation name, activation defaults, CA and TLS certificate details',
      tag: 'settings',
      auth: 'admin',
      permission: 'settings:read',
      response: SettingsSchema,
      handler: () => settings.get(),
    }),
    route({
      method: 'PATCH',
      url: '/api/v1/settings',
      summary: 'Change the organisation name or the activation defaults (audited)',
      tag: 'settings',
      auth: 'admin',
      permission: 'settings:write',
      body: SettingsUpdateSchema,
      response: SettingsSchema,
      handler: ({ body, principal, ip }) => settings.update(body, principal, ip),
    }),
  ];
}
