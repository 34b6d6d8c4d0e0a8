import {
  GroupCreateSchema,
  GroupPageSchema,
  GroupSchema,
  GroupUpdateSchema,
  IdParamsSchema,
  OkSchema,
  PageQuerySchema,
  UserCreateSchema,
  UserImportResultSchema,
  UserListQuerySchema,
  UserPageSchema,
  UserSchema,
  UserUpdateSchema,
} from '@enclave/protocol';
import { AppError } from '../../platform/http/app-error.js';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { GroupService } from './group.service.js';
import type { UserService } from './user.service.js';

export function userRoutes(users: UserService, groups: GroupService): RouteSpec[] {
  return [
    route({ method: 'GET', url: '/api/v1/users', summary: 'Search and page through users', tag: 'users', auth: 'admin', permission: 'users:read', query: UserListQuerySchema, response: UserPageSchema, handler: ({ query }) => users.list(query) }),
    route({
      method: 'POST',
      url: '/api/v1/users',
      summary: 'Create a user',
      tag: 'users',
      auth: 'admin',
      permission: 'users:write',
      body: UserCreateSchema,
      response: UserSchema,
      status: 201,
      handler: ({ body, principal, ip }) => users.create(body, principal, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/users/import',
      summary: 'Import users from CSV (email,name,groups); reports per-row errors and imports the good rows',
      tag: 'users',
      auth: 'admin',
      permission: 'users:write',
      consumes: 'text/csv',
      response: UserImportResultSchema,
      handler: ({ request, principal, ip }) => {
        const body: unknown = request.body; // text/csv arrives as a string (see the parser in app.ts)
        if (typeof body !== 'string' || body.length === 0) throw new AppError(400, 'validation_failed', 'send the CSV as the request body');
        return users.importCsv(body, principal, ip);
      },
    }),
    route({ method: 'GET', url: '/api/v1/users/:id', summary: 'One user', tag: 'users', auth: 'admin', permission: 'users:read', params: IdParamsSchema, response: UserSchema, handler: ({ params }) => users.get(params.id) }),
    route({
      method: 'PATCH',
      url: '/api/v1/users/:id',
      summary: 'Update a user',
      tag: 'users',
      auth: 'admin',
      permission: 'users:write',
      params: IdParamsSchema,
      body: UserUpdateSchema,
      response: UserSchema,
      handler: ({ params, body, principal, ip }) => users.update(params.id, body, principal, ip),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/users/:id',
      summary: 'Delete a user without devices',
      tag: 'users',
      auth: 'admin',
      permission: 'users:write',
      params: IdParamsSchema,
      response: OkSchema,
      handler: ({ params, principal, ip }) => users.remove(params.id, principal, ip),
    }),
    route({ method: 'GET', url: '/api/v1/groups', summary: 'Search and page through groups', tag: 'groups', auth: 'admin', permission: 'groups:read', query: PageQuerySchema, response: GroupPageSchema, handler: ({ query }) => groups.list(query) }),
    route({
      method: 'POST',
      url: '/api/v1/groups',
      summary: 'Create a group',
      tag: 'groups',
      auth: 'admin',
      permission: 'groups:write',
      body: GroupCreateSchema,
      response: GroupSchema,
      status: 201,
      handler: ({ body, principal, ip }) => groups.create(body, principal, ip),
    }),
    route({ method: 'GET', url: '/api/v1/groups/:id', summary: 'One group', tag: 'groups', auth: 'admin', permission: 'groups:read', params: IdParamsSchema, response: GroupSchema, handler: ({ params }) => groups.get(params.id) }),
    route({
      method: 'PATCH',
      url: '/api/v1/groups/:id',
      summary: 'Rename or describe a group',
      tag: 'groups',
      auth: 'admin',
      permission: 'groups:write',
      params: IdParamsSchema,
      body: GroupUpdateSchema,
      response: GroupSchema,
      handler: ({ params, body, principal, ip }) => groups.update(params.id, body, principal, ip),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/groups/:id',
      summary: 'Delete a group (members stay)',
      tag: 'groups',
      auth: 'admin',
      permission: 'groups:write',
      params: IdParamsSchema,
      response: OkSchema,
      handler: ({ params, principal, ip }) => groups.remove(params.id, principal, ip),
    }),
  ];
}

