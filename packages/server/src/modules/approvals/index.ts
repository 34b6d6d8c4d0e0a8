export { ApprovalRepository } from './approval.repository.js';
export { type ApprovalOptions, ApprovalService } from './approval.service.js';
export { approvalRoutes } from './approval.routes.js';
