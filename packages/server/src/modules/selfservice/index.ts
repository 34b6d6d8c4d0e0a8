export { SelfServiceService } from './selfservice.service.js';
export { selfServiceRoutes } from './selfservice.routes.js';
