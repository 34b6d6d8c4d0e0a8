export { PolicyRepository } from './policy.repository.js';
export { PolicyService } from './policy.service.js';
export { policyRoutes } from './policy.routes.js';
