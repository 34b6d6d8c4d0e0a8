export { DeviceRepository, type DeviceRow } from './device.repository.js';
export { DeviceService } from './device.service.js';
export { DeviceAuthService } from './device-auth.service.js';
export { deviceRoutes } from './device.routes.js';
export { CommandService } from './command.service.js';
