/**
 * The console's typed API client.
 *
 * Types: request bodies and responses are the zod schemas of @enclave/protocol — the very schemas the
 * server validates with and generates its OpenAPI document from — so the types cannot drift from the
 * server. Paths: every call goes through `endpoints.json` (name → [method, OpenAPI path]); the browser
 * test suite checks each entry against the running server's `/api/v1/openapi.json`, so a renamed or
 * removed route fails CI instead of failing in an administrator's hands.
 *
 * Admin auth: the server sets an HttpOnly session cookie at sign-in (never readable here) and returns
 * a CSRF token that goes in `x-csrf-token` on every unsafe method. The CSRF token is kept in
 * sessionStorage (per tab, gone when the tab closes) so a reload keeps working; on its own it grants
 * nothing. Employee (portal) auth: the `ess_` bearer token lives in sessionStorage — see portal/session.ts.
 */
import type { z } from 'zod';
import type * as P from '@enclave/protocol';
import endpoints from './endpoints.json';

export type EndpointName = keyof typeof endpoints;
export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
export const ENDPOINTS = endpoints as unknown as Record<EndpointName, [Method, string]>;

type Out<S extends z.ZodType> = z.output<S>;
type In<S extends z.ZodType> = z.input<S>;
type Query = Record<string, string | number | boolean | undefined | null>;

/** An error answered by the server (`{ error: { code, message } }`) or a network failure. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
  /** The message for one form field (`details[].path` is the zod path, e.g. `email`). */
  fieldError(path: string): string | undefined {
    return this.details.find((d) => d.path === path)?.message;
  }
}

const CSRF_KEY = 'enclave.csrf';
const EMPLOYEE_KEY = 'enclave.portal';

export const adminCredentials = {
  csrf(): string | null {
    return sessionStorage.getItem(CSRF_KEY);
  },
  set(csrf: string | null): void {
    if (csrf) sessionStorage.setItem(CSRF_KEY, csrf);
    else sessionStorage.removeItem(CSRF_KEY);
  },
};
export const employeeCredentials = {
  token(): string | null {
    return sessionStorage.getItem(EMPLOYEE_KEY);
  },
  set(token: string | null): void {
    if (token) sessionStorage.setItem(EMPLOYEE_KEY, token);
    else sessionStorage.removeItem(EMPLOYEE_KEY);
  },
};

type ExpiredListener = (who: 'admin' | 'employee', reason: string) => void;
const expiredListeners = new Set<ExpiredListener>();
/** Called when the server says a session is gone (401); the session providers send the user to sign-in. */
export function onSessionExpired(fn: ExpiredListener): () => void {
  expiredListeners.add(fn);
  return () => expiredListeners.delete(fn);
}

/** `/api/v1/users/{id}` + params + query → a URL. Values are encoded; nothing secret ever goes here. */
export function endpointUrl(
  name: EndpointName,
  params: Record<string, string> = {},
  query: Query = {},
): string {
  const [, template] = ENDPOINTS[name];
  const path = template.replace(/\{(\w+)\}/g, (_m, k: string) => {
    const v = params[k];
    if (v === undefined) throw new Error(`missing path parameter ${k} for ${name}`);
    return encodeURIComponent(v);
  });
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

export interface CallOptions {
  params?: Record<string, string>;
  query?: Query;
  /** JSON body. */
  body?: unknown;
  /** Non-JSON body (CSV import). */
  raw?: { body: string; contentType: string };
  /** Whose credentials to send. Default admin (cookie + CSRF). */
  as?: 'admin' | 'employee' | 'anonymous';
  /** Response kind. Default json. */
  accept?: 'json' | 'text';
  signal?: AbortSignal;
}

/** One API call by endpoint name. Prefer the typed `api.*` functions below. */
export async function call<T>(name: EndpointName, opts: CallOptions = {}): Promise<T> {
  const [method] = ENDPOINTS[name];
  const as = opts.as ?? 'admin';
  const headers: Record<string, string> = { accept: opts.accept === 'text' ? 'text/*' : 'application/json' };
  let body: string | undefined;
  if (opts.raw) {
    headers['content-type'] = opts.raw.contentType;
    body = opts.raw.body;
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  if (as === 'admin' && method !== 'GET') {
    const csrf = adminCredentials.csrf();
    if (csrf) headers['x-csrf-token'] = csrf;
  }
  if (as === 'employee') {
    const t = employeeCredentials.token();
    if (t) headers.authorization = `Bearer ${t}`;
  }
  let res: Response;
  try {
    res = await fetch(endpointUrl(name, opts.params, opts.query), {
      method,
      headers,
      body,
      credentials: 'same-origin',
      signal: opts.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network_error', 'The server could not be reached. Check your connection.');
  }
  if (!res.ok) {
    let code = 'http_' + String(res.status);
    let message = `The server answered ${res.status} ${res.statusText}`.trim();
    let details: { path: string; message: string }[] = [];
    try {
      const j = (await res.json()) as Partial<P.ErrorBody>;
      if (j.error) {
        code = j.error.code;
        message = j.error.message;
        details = j.error.details ?? [];
      }
    } catch {
      /* not JSON: keep the status line */
    }
    const err = new ApiError(res.status, code, message, details);
    if (res.status === 401 && name !== 'login' && name !== 'selfLogin' && as !== 'anonymous') {
      for (const l of expiredListeners) l(as, code === 'session_expired' ? 'Your session expired.' : message);
    }
    throw err;
  }
  if (opts.accept === 'text') return (await res.text()) as T;
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

type Id = { id: string };
type Page<T> = { items: T[]; total: number; limit: number; offset: number };

/** Typed calls, one per endpoint. Add yours here (and its path to endpoints.json). */
export const api = {
  info: () => call<Out<typeof P.ServerInfoSchema>>('info', { as: 'anonymous' }),

  // --- auth
  login: (body: In<typeof P.LoginSchema>) =>
    call<Out<typeof P.LoginResultSchema>>('login', { body, as: 'anonymous' }),
  logout: () => call<{ ok: true }>('logout'),
  me: () => call<P.Admin>('me'),
  totpEnroll: () => call<Out<typeof P.TotpEnrollResultSchema>>('totpEnroll'),
  totpConfirm: (code: string) => call<P.Admin>('totpConfirm', { body: { code } }),

  // --- dashboard & settings
  dashboard: (signal?: AbortSignal) => call<P.Dashboard>('dashboard', { signal }),
  settings: () => call<P.Settings>('settingsGet'),
  updateSettings: (body: P.SettingsUpdate) => call<P.Settings>('settingsUpdate', { body }),

  // --- users & groups
  users: (query: In<typeof P.UserListQuerySchema> & Query = {}) => call<Page<P.User>>('usersList', { query }),
  createUser: (body: In<typeof P.UserCreateSchema>) => call<P.User>('usersCreate', { body }),
  importUsers: (csv: string) =>
    call<P.UserImportResult>('usersImport', { raw: { body: csv, contentType: 'text/csv' } }),
  user: ({ id }: Id) => call<P.User>('usersGet', { params: { id } }),
  updateUser: ({ id }: Id, body: In<typeof P.UserUpdateSchema>) =>
    call<P.User>('usersUpdate', { params: { id }, body }),
  deleteUser: ({ id }: Id) => call<{ ok: true }>('usersDelete', { params: { id } }),
  inviteUser: ({ id }: Id) => call<Out<typeof P.InvitationCreatedSchema>>('usersInvite', { params: { id } }),
  groups: (query: In<typeof P.PageQuerySchema> & Query = {}) => call<Page<P.Group>>('groupsList', { query }),
  createGroup: (body: In<typeof P.GroupCreateSchema>) => call<P.Group>('groupsCreate', { body }),
  group: ({ id }: Id) => call<P.Group>('groupsGet', { params: { id } }),
  updateGroup: ({ id }: Id, body: In<typeof P.GroupUpdateSchema>) =>
    call<P.Group>('groupsUpdate', { params: { id }, body }),
  deleteGroup: ({ id }: Id) => call<{ ok: true }>('groupsDelete', { params: { id } }),

  // --- activation passwords
  activations: (email: string) =>
    call<{ items: Out<typeof P.ActivationInfoSchema>[] }>('activationsList', { query: { email } }),
  createActivation: (body: In<typeof P.ActivationCreateSchema>) =>
    call<Out<typeof P.ActivationCreatedSchema>>('activationsCreate', { body }),
  deleteActivation: ({ id }: Id) => call<{ ok: true }>('activationsDelete', { params: { id } }),

  // --- devices & commands
  devices: (query: DeviceListQuery = {}) => call<Page<P.Device>>('devicesList', { query }),
  device: ({ id }: Id) => call<Out<typeof P.DeviceDetailSchema>>('devicesGet', { params: { id } }),
  sendCommand: ({ id }: Id, body: In<typeof P.DeviceCommandCreateSchema>) =>
    call<Out<typeof P.DeviceCommandSchema> | P.Approval>('devicesCommand', { params: { id }, body }),
  bulkCommand: (body: In<typeof P.BulkCommandCreateSchema>) =>
    call<P.BulkCommandResult>('bulkCommand', { body }),

  // --- approvals
  approvals: (query: In<typeof P.ApprovalListQuerySchema> & Query = {}) =>
    call<Out<typeof P.ApprovalListSchema>>('approvalsList', { query }),
  approval: ({ id }: Id) => call<P.Approval>('approvalsGet', { params: { id } }),
  approve: ({ id }: Id, reason?: string) =>
    call<P.Approval>('approvalsApprove', { params: { id }, body: reason ? { reason } : {} }),
  deny: ({ id }: Id, reason?: string) =>
    call<P.Approval>('approvalsDeny', { params: { id }, body: reason ? { reason } : {} }),
  cancelApproval: ({ id }: Id) => call<P.Approval>('approvalsCancel', { params: { id } }),

  // --- policies
  policies: () => call<Out<typeof P.PolicyListSchema>>('policiesList'),
  createPolicy: (body: In<typeof P.PolicyCreateSchema>) => call<P.Policy>('policiesCreate', { body }),
  effectivePolicy: (query: In<typeof P.EffectivePolicyQuerySchema> & Query) =>
    call<P.EffectivePolicy>('policiesEffective', { query }),
  policy: ({ id }: Id) => call<P.Policy>('policiesGet', { params: { id } }),
  updatePolicy: ({ id }: Id, body: In<typeof P.PolicyUpdateSchema>) =>
    call<P.Policy>('policiesUpdate', { params: { id }, body }),
  deletePolicy: ({ id }: Id) => call<{ ok: true }>('policiesDelete', { params: { id } }),
  policyAffected: ({ id }: Id) =>
    call<Out<typeof P.PolicyAffectedSchema>>('policiesAffected', { params: { id } }),
  assignPolicy: ({ id }: Id, body: P.PolicyAssign) =>
    call<P.Policy>('policiesAssign', { params: { id }, body }),
  unassignPolicyUser: ({ id }: Id, userId: string) =>
    call<P.Policy>('policiesUnassignUser', { params: { id, userId } }),
  unassignPolicyGroup: ({ id }: Id, groupId: string) =>
    call<P.Policy>('policiesUnassignGroup', { params: { id, groupId } }),

  // --- webhooks
  webhooks: () => call<Out<typeof P.WebhookListSchema>>('webhooksList'),
  createWebhook: (body: In<typeof P.WebhookCreateSchema>) =>
    call<Out<typeof P.WebhookWithSecretSchema>>('webhooksCreate', { body }),
  webhook: ({ id }: Id) => call<Out<typeof P.WebhookSchema>>('webhooksGet', { params: { id } }),
  updateWebhook: ({ id }: Id, body: In<typeof P.WebhookUpdateSchema>) =>
    call<Out<typeof P.WebhookSchema>>('webhooksUpdate', { params: { id }, body }),
  deleteWebhook: ({ id }: Id) => call<{ ok: true }>('webhooksDelete', { params: { id } }),
  rotateWebhookSecret: ({ id }: Id) =>
    call<Out<typeof P.WebhookWithSecretSchema>>('webhooksRotateSecret', { params: { id } }),
  testWebhook: ({ id }: Id) => call<Out<typeof P.WebhookDeliverySchema>>('webhooksTest', { params: { id } }),
  webhookDeliveries: ({ id }: Id, query: In<typeof P.WebhookDeliveryQuerySchema> & Query = {}) =>
    call<Out<typeof P.WebhookDeliveryPageSchema>>('webhooksDeliveries', { params: { id }, query }),

  // --- administrators
  admins: () => call<Out<typeof P.AdminListSchema>>('adminsList'),
  createAdmin: (body: In<typeof P.AdminCreateSchema>) => call<P.Admin>('adminsCreate', { body }),
  updateAdmin: ({ id }: Id, body: In<typeof P.AdminUpdateSchema>) =>
    call<P.Admin>('adminsUpdate', { params: { id }, body }),
  deleteAdmin: ({ id }: Id) => call<{ ok: true }>('adminsDelete', { params: { id } }),

  // --- audit
  audit: (query: In<typeof P.AuditListQuerySchema> & Query = {}) =>
    call<Out<typeof P.AuditPageSchema>>('auditList', { query }),
  verifyAudit: () => call<P.AuditVerifyResult>('auditVerify'),
  /** Where the browser downloads the CSV export (same-origin link; the session cookie authorises it). */
  auditExportUrl: (query: Query = {}) => endpointUrl('auditExportCsv', {}, query),
};

/** The device list's filters (DeviceListQuerySchema; the server rejects unknown keys). */
export interface DeviceListQuery extends Query {
  q?: string;
  status?: string;
  userId?: string;
  platform?: string;
  compliance?: string;
  /** ISO date-time: devices seen at or after it. */
  lastContactAfter?: string;
  /** ISO date-time: devices last seen before it ("out of contact"). */
  lastContactBefore?: string;
  limit?: number;
  offset?: number;
}

/** The employee portal's calls (bearer token from sessionStorage). */
export const portalApi = {
  acceptInvitation: (body: In<typeof P.InvitationAcceptSchema>) =>
    call<Out<typeof P.SelfSessionSchema>>('selfAcceptInvitation', { body, as: 'anonymous' }),
  login: (body: In<typeof P.SelfLoginSchema>) =>
    call<Out<typeof P.SelfSessionSchema>>('selfLogin', { body, as: 'anonymous' }),
  me: () => call<Out<typeof P.SelfMeSchema>>('selfMe', { as: 'employee' }),
  logout: () => call<{ ok: true }>('selfLogout', { as: 'employee' }),
  devices: () => call<Out<typeof P.SelfDeviceListSchema>>('selfDevices', { as: 'employee' }),
  createActivation: () =>
    call<Out<typeof P.ActivationCreatedSchema>>('selfActivationsCreate', { as: 'employee' }),
  command: ({ id }: Id, body: In<typeof P.SelfCommandSchema>) =>
    call<{ commandId?: string; state?: string }>('selfDeviceCommand', {
      params: { id },
      body,
      as: 'employee',
    }),
};
