import {
  AuditExportQuerySchema,
  AuditListQuerySchema,
  AuditPageSchema,
  AuditVerifySchema,
} from '@enclave/protocol';
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
      url: '/api/v1/audit/export.csv',
      summary:
        'The filtered audit log as CSV, newest first (same filters as the list); formula-safe cells; the export is audited',
      tag: 'audit',
      auth: 'admin',
      permission: 'audit:read',
      query: AuditExportQuerySchema,
      produces: 'text/csv; charset=utf-8',
      handler: async ({ query, principal, ip, reply }) => {
        const stream = await audit.exportCsv(
          query,
          { type: 'admin', id: principal.adminId, label: principal.email },
          ip,
        );
        const day = new Date().toISOString().slice(0, 10);
        reply.header('content-disposition', `attachment; filename="enclave-audit-${day}.csv"`);
        return stream;
      },
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
