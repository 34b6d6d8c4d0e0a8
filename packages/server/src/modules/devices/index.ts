export { DeviceRepository, type DeviceRow } from './device.repository.js';
export { type CommandGuard, commandPermission, DeviceService } from './device.service.js';
export { DeviceAuthService } from './device-auth.service.js';
export { deviceRoutes } from './device.routes.js';
export { CommandService } from './command.service.js';
