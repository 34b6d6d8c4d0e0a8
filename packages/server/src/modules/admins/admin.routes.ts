import { z } from 'zod';
import {
  AdminCreateSchema,
  AdminMeSchema,
  AdminListSchema,
  AdminSchema,
  AdminUpdateSchema,
  IdParamsSchema,
  LoginResultSchema,
  LoginSchema,
  OkSchema,
  RoleSchema,
  SetupSchema,
  TotpConfirmSchema,
  TotpEnrollResultSchema,
} from '@enclave/protocol';
import { route, type RouteSpec } from '../../platform/http/route.js';
import type { AdminService } from './admin.service.js';
import { type AuthService, SESSION_COOKIE } from './auth.service.js';
import type { SetupService } from './setup.service.js';

const SetupResultSchema = z.object({ id: z.string(), email: z.string(), role: RoleSchema });

export function adminRoutes(auth: AuthService, admins: AdminService, setup: SetupService): RouteSpec[] {
  return [
    route({
      method: 'POST',
      url: '/api/v1/setup',
      summary: 'Create the first Security Administrator with the one-time setup code',
      tag: 'auth',
      auth: 'none',
      body: SetupSchema,
      response: SetupResultSchema,
      status: 201,
      handler: ({ body, ip }) => setup.complete(body, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/auth/login',
      summary: 'Administrator sign-in (password, then TOTP once enrolled)',
      tag: 'auth',
      auth: 'none',
      body: LoginSchema,
      response: LoginResultSchema,
      handler: async ({ body, ip, reply }) => {
        const result = await auth.login(body, ip);
        // Browsers use the HttpOnly cookie plus the CSRF token; the CLI uses the bearer token.
        reply.setCookie(SESSION_COOKIE, result.token, {
          httpOnly: true,
          secure: true,
          sameSite: 'strict',
          path: '/',
          expires: new Date(result.expiresAt),
        });
        return result;
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/auth/logout',
      summary: 'End this session',
      tag: 'auth',
      auth: 'admin',
      response: OkSchema,
      handler: async ({ principal, ip, reply }) => {
        await auth.logout(principal, ip);
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return { ok: true as const };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/auth/me',
      summary: 'The signed-in administrator, the permissions of their role and when the session expires',
      tag: 'auth',
      auth: 'admin',
      response: AdminMeSchema,
      handler: ({ principal }) => auth.me(principal),
    }),
    route({
      method: 'POST',
      url: '/api/v1/auth/totp/enroll',
      summary: 'Start TOTP enrolment (RFC 6238); confirm with a code to enable it',
      tag: 'auth',
      auth: 'admin',
      response: TotpEnrollResultSchema,
      handler: ({ principal, ip }) => auth.enrollTotp(principal, ip),
    }),
    route({
      method: 'POST',
      url: '/api/v1/auth/totp/confirm',
      summary: 'Confirm TOTP enrolment with a current code',
      tag: 'auth',
      auth: 'admin',
      body: TotpConfirmSchema,
      response: AdminSchema,
      handler: ({ principal, body, ip }) => auth.confirmTotp(principal, body.code, ip),
    }),
    route({
      method: 'GET',
      url: '/api/v1/admins',
      summary: 'List administrators',
      tag: 'admins',
      auth: 'admin',
      permission: 'admins:read',
      response: AdminListSchema,
      handler: () => admins.list(),
    }),
    route({
      method: 'POST',
      url: '/api/v1/admins',
      summary: 'Create an administrator',
      tag: 'admins',
      auth: 'admin',
      permission: 'admins:manage',
      body: AdminCreateSchema,
      response: AdminSchema,
      status: 201,
      handler: ({ body, principal, ip }) => admins.create(body, principal, ip),
    }),
    route({
      method: 'PATCH',
      url: '/api/v1/admins/:id',
      summary: "Change an administrator's role",
      tag: 'admins',
      auth: 'admin',
      permission: 'admins:manage',
      params: IdParamsSchema,
      body: AdminUpdateSchema,
      response: AdminSchema,
      handler: ({ params, body, principal, ip }) => admins.setRole(params.id, body.role, principal, ip),
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/admins/:id',
      summary: 'Delete an administrator',
      tag: 'admins',
      auth: 'admin',
      permission: 'admins:manage',
      params: IdParamsSchema,
      response: OkSchema,
      handler: ({ params, principal, ip }) => admins.remove(params.id, principal, ip),
    }),
  ];
}
