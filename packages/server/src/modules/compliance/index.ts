export { ComplianceRepository } from './compliance.repository.js';
export {
  ComplianceService,
  type ComplianceEnforcer,
  type CompliancePolicySource,
} from './compliance.service.js';
export { ComplianceJob, COMPLIANCE_INTERVAL_MS, COMPLIANCE_JOB } from './compliance.job.js';
export { JobLeaseRepository } from './job-lease.repository.js';
export { complianceRoutes } from './compliance.routes.js';
export { compareVersions, evaluateRules } from './compliance.rules.js';
