export { AdminRepository } from './admin.repository.js';
export { AdminService } from './admin.service.js';
export { AuthService, SESSION_COOKIE, actorOf } from './auth.service.js';
export { SetupService } from './setup.service.js';
export { adminRoutes } from './admin.routes.js';
export { newToken, tokenHash, sameHash, bearer } from './tokens.js';
export { hashPassword, verifyPassword, verifyDummy } from './password.js';
