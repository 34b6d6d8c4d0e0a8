import { ComplianceResultSchema, PostureReportSchema } from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { ComplianceService } from './compliance.service.js';

export function complianceRoutes(compliance: ComplianceService): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/device/posture',
      summary: "The device's posture report; answers with its compliance after evaluation",
      tag: 'device',
      auth: 'device',
      body: PostureReportSchema,
      response: ComplianceResultSchema,
      handler: ({ principal, body }) => compliance.reportPosture(principal, body),
    }),
  ];
}
