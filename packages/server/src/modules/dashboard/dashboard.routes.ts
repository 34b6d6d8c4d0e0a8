import { DashboardSchema } from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { DashboardService } from './dashboard.service.js';

export function dashboardRoutes(dashboard: DashboardService): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/dashboard',
      summary:
        'The fleet at a glance from live data: users, devices by status/platform/OS, compliance, activations per day, commands, messages, expiries, latest audit',
      tag: 'dashboard',
      auth: 'admin',
      permission: 'devices:read',
      response: DashboardSchema,
      handler: ({ principal }) => dashboard.get(principal),
    }),
  ];
}
