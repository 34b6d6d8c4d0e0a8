export { AuditService, SYSTEM, type AuditActor, type AuditEvent } from './audit.service.js';
export { AuditRepository } from './audit.repository.js';
export { auditRoutes } from './audit.routes.js';
