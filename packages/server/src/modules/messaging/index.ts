export { MessagingRepository } from './messaging.repository.js';
export { MessagingService } from './messaging.service.js';
export { messagingRoutes } from './messaging.routes.js';
export { AttachmentService, DEFAULT_ATTACHMENT_LIMIT } from './attachment.service.js';
