export { ActivationRepository } from './activation.repository.js';
export { ActivationService } from './activation.service.js';
export { activationRoutes } from './activation.routes.js';
