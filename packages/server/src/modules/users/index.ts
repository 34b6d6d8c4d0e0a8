export { UserRepository } from './user.repository.js';
export { UserService } from './user.service.js';
export { GroupService } from './group.service.js';
export { userRoutes } from './user.routes.js';
