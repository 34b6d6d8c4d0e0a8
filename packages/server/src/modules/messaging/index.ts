export { MessagingRepository } from './messaging.repository.js';
export { MessagingService } from './messaging.service.js';
export { messagingRoutes } from './messaging.routes.js';
