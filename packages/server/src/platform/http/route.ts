import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Permission, Role } from '@enclave/protocol';
import type { z } from 'zod';

export interface AdminPrincipal {
  kind: 'admin';
  adminId: string;
  email: string;
  role: Role;
  sessionId: string;
  sessionExpiresAt?: string;
}
export interface DevicePrincipal {
  kind: 'device';
  deviceId: string;
  userId: string;
  userEmail: string;
}
/** An employee signed in to the self-service portal: acts only on their own user and devices. */
export interface EmployeePrincipal {
  kind: 'employee';
  userId: string;
  email: string;
  sessionId: string;
  sessionExpiresAt?: string;
}
export interface AnonymousPrincipal {
  kind: 'anonymous';
}
export type Principal = AdminPrincipal | DevicePrincipal | EmployeePrincipal | AnonymousPrincipal;

export interface RouteContext<B, Q, P, A extends Principal> {
  body: B;
  query: Q;
  params: P;
  principal: A;
  ip: string;
  request: FastifyRequest;
  reply: FastifyReply;
}

type PrincipalFor<K extends RouteAuth> = K extends 'admin'
  ? AdminPrincipal
  : K extends 'device'
    ? DevicePrincipal
    : K extends 'employee'
      ? EmployeePrincipal
      : AnonymousPrincipal;
export type RouteAuth = 'none' | 'admin' | 'device' | 'employee';

/**
 * One API route, declared once: the server registers it, the OpenAPI document is generated from
 * it, and the role-matrix test walks it. `permission` is checked before the handler runs.
 */
export interface RouteSpec<
  B = unknown,
  Q = unknown,
  P = unknown,
  R = unknown,
  K extends RouteAuth = RouteAuth,
> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  summary: string;
  tag: string;
  auth: K;
  permission?: Permission;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  response?: z.ZodType<R>;
  status?: number;
  /** Largest request body in bytes when it differs from the server-wide 1 MiB. */
  bodyLimit?: number;
  /** Request body media type when not JSON. */
  consumes?: 'text/csv' | 'application/octet-stream';
  /** Response media type when not JSON (the handler returns a string). */
  produces?: string;
  handler(ctx: RouteContext<B, Q, P, PrincipalFor<K>>): Promise<R>;
}

/** Declares a route with its types inferred from its schemas. */
export function route<
  B = undefined,
  Q = undefined,
  P = undefined,
  R = unknown,
  K extends RouteAuth = RouteAuth,
>(spec: RouteSpec<B, Q, P, R, K>): RouteSpec {
  return spec; // erased for the registry; the handler was type-checked above
}
