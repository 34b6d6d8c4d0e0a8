import { AuditListQuerySchema, AuditPageSchema, AuditVerifySchema } from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { AuditService } from './audit.service.js';

export function auditRoutes(audit: AuditService): RouteSpec[] {
  return [
    route({
      method: 'GET',
      url: '/api/v1/audit',
      summary: 'List audit entries, newest first',
      tag: 'audit',
      auth: 'admin',
      permission: 'audit:read',
      query: AuditListQuerySchema,
      response: AuditPageSchema,
      handler: ({ query }) => audit.list(query),
    }),
    route({
      method: 'GET',
      url: '/api/v1/audit/verify',
      summary: 'Verify the audit hash chain end to end',
      tag: 'audit',
      auth: 'admin',
      permission: 'audit:read',
      response: AuditVerifySchema,
      handler: () => audit.verify(),
    }),
  ];
}
