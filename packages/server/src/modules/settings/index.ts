export { type ActivationDefaults, type SettingsOptions, SettingsService } from './settings.service.js';
export { settingsRoutes } from './settings.routes.js';
