export { PkiService, type PkiMaterial } from './pki.service.js';
export { pkiRoutes } from './pki.routes.js';
