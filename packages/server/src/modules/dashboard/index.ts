export { DashboardRepository } from './dashboard.repository.js';
export { DashboardService } from './dashboard.service.js';
export { dashboardRoutes } from './dashboard.routes.js';
