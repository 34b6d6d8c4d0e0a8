export { runServer, type RunningServer } from './server.js';
export { initEnclave, InitError } from './init.js';
export { openEnclave, type Enclave } from './bootstrap.js';
export { backupEnclave, restoreEnclave, BackupError } from './backup.js';
export { buildApp, buildServices, routeTable, BODY_LIMIT, type Services } from './app.js';
export { KekError } from './platform/keystore/kek.js';
export { configErrorLine } from './platform/config/config.js';
export type { RouteSpec } from './platform/http/route.js';
export { VERSION } from './version.js';
