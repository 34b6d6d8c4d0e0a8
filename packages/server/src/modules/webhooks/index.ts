export { WebhookRepository } from './webhook.repository.js';
export { WebhookService } from './webhook.service.js';
export {
  WebhookDispatcher,
  DEFAULT_RETRY_DELAYS_MS,
  type WebhookDispatchOptions,
} from './webhook.dispatcher.js';
export { webhookRoutes } from './webhook.routes.js';
export { subscribeWebhooks } from './webhook.events.js';
