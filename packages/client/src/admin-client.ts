import { z } from 'zod';
import {
  ActivationCreateSchema,
  ActivationCreatedSchema,
  ActivationInfoSchema,
  AdminCreateSchema,
  AdminListSchema,
  AdminSchema,
  AdminUpdateSchema,
  ApprovalDecisionSchema,
  ApprovalListQuerySchema,
  ApprovalListSchema,
  ApprovalSchema,
  AuditListQuerySchema,
  AuditPageSchema,
  AuditVerifySchema,
  BulkCommandCreateSchema,
  BulkCommandResultSchema,
  CaInfoSchema,
  DeviceCommandCreateSchema,
  DeviceCommandSchema,
  DeviceDetailSchema,
  DeviceListQuerySchema,
  DevicePageSchema,
  GroupCreateSchema,
  GroupPageSchema,
  GroupSchema,
  GroupUpdateSchema,
  IdSchema,
  LoginResultSchema,
  LoginSchema,
  OkSchema,
  PageQuerySchema,
  EffectivePolicyQuerySchema,
  EffectivePolicySchema,
  PolicyAffectedSchema,
  PolicyAssignSchema,
  PolicyCreateSchema,
  PolicyListSchema,
  PolicySchema,
  PolicyUpdateSchema,
  RoleSchema,
  ServerInfoSchema,
  SetupSchema,
  TotpConfirmSchema,
  TotpEnrollResultSchema,
  UserCreateSchema,
  UserImportResultSchema,
  UserListQuerySchema,
  UserPageSchema,
  UserSchema,
  UserUpdateSchema,
  WebhookCreateSchema,
  WebhookDeliveryPageSchema,
  WebhookDeliveryQuerySchema,
  WebhookDeliverySchema,
  WebhookListSchema,
  WebhookSchema,
  WebhookUpdateSchema,
  WebhookWithSecretSchema,
} from '@enclave/protocol';
import { requestBody, segment, withQuery } from './request-body.js';
import { call, parseResponse, type Transport, type TransportRequest } from './transport.js';

/**
 * `GET /api/v1/activations?email=E` answers `{ items: ActivationInfo[] }`; protocol has no named
 * schema for that envelope, so it is defined here.
 */
export const ActivationListSchema = z.object({ items: z.array(ActivationInfoSchema) });
/** What `POST /api/v1/setup` answers: the first Security Administrator. */
export const SetupResultSchema = z.object({ id: IdSchema, email: z.string(), role: RoleSchema });

// Response types of the admin API, inferred from the protocol schemas.
/** `GET /api/v1/info`. */
export type ServerInfo = z.infer<typeof ServerInfoSchema>;
/** `GET /api/v1/pki/ca`. */
export type CaInfo = z.infer<typeof CaInfoSchema>;
/** `POST /api/v1/auth/login` (holds the bearer token — never print it). */
export type LoginResult = z.infer<typeof LoginResultSchema>;
/** A guarded command waiting for (or past) a second administrator's decision. */
export type ApprovalRecord = z.infer<typeof ApprovalSchema>;
/** `POST /api/v1/commands`: the queued commands, or the approval request. */
export type BulkCommandResult = z.infer<typeof BulkCommandResultSchema>;
/** An administrator. */
export type AdminRecord = z.infer<typeof AdminSchema>;
/** A user. */
export type UserRecord = z.infer<typeof UserSchema>;
/** A policy as the API returns it. */
export type PolicyRecord = z.infer<typeof PolicySchema>;
/** An effective policy with its source and explanation. */
export type EffectivePolicyRecord = z.infer<typeof EffectivePolicySchema>;
/** A page of users. */
export type UserPage = z.infer<typeof UserPageSchema>;
/** The per-row report of a CSV import. */
export type UserImportReport = z.infer<typeof UserImportResultSchema>;
/** A group. */
export type GroupRecord = z.infer<typeof GroupSchema>;
/** A page of groups. */
export type GroupPage = z.infer<typeof GroupPageSchema>;
/** An activation password, without the secret. */
export type ActivationInfo = z.infer<typeof ActivationInfoSchema>;
/** A new activation password with its secret and QR payload (shown once). */
export type ActivationCreated = z.infer<typeof ActivationCreatedSchema>;
/** A page of devices. */
export type DevicePage = z.infer<typeof DevicePageSchema>;
/** A device with its certificate and command history. */
export type DeviceDetail = z.infer<typeof DeviceDetailSchema>;
/** A remote command and its state. */
export type DeviceCommand = z.infer<typeof DeviceCommandSchema>;
/** A page of audit entries. */
export type AuditPage = z.infer<typeof AuditPageSchema>;
/** The result of walking the audit hash chain. */
export type AuditVerification = z.infer<typeof AuditVerifySchema>;
/** A webhook endpoint (never with its secret). */
export type WebhookRecord = z.infer<typeof WebhookSchema>;
/** A webhook endpoint with its signing secret, answered once by create and rotate-secret. */
export type WebhookCreated = z.infer<typeof WebhookWithSecretSchema>;
/** One event for one webhook endpoint, with its attempts. */
export type WebhookDeliveryRecord = z.infer<typeof WebhookDeliverySchema>;
/** A page of a webhook endpoint's delivery log. */
export type WebhookDeliveryPage = z.infer<typeof WebhookDeliveryPageSchema>;
/** A TOTP secret and its otpauth URL. */
export type TotpEnrollment = z.infer<typeof TotpEnrollResultSchema>;

/** Options of {@link AdminClient}. */
export interface AdminClientOptions {
  /** Bearer token from {@link AdminClient.login} (or a saved session). */
  token?: string;
}

/**
 * Typed client for the administrator routes of `docs/API.md`. Every method parses the answer with
 * the protocol schema and throws {@link ApiError} with the server's stable code on failure.
 * @example
 * const admin = new AdminClient(httpsTransport({ baseUrl, ca }), {});
 * await admin.login({ email: 'sec@example.com', password });
 * const { items } = await admin.listUsers({ q: 'alice' });
 */
export class AdminClient {
  private token: string | undefined;

  constructor(
    private readonly transport: Transport,
    opts: AdminClientOptions = {},
  ) {
    this.token = opts.token;
  }

  /** The bearer token in use, if any (set by {@link AdminClient.login}). */
  get sessionToken(): string | undefined {
    return this.token;
  }

  /** Replaces the bearer token (e.g. after loading a saved session). */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  private async send<T>(req: TransportRequest, schema: { parse(v: unknown): T }): Promise<T> {
    const headers: Record<string, string> = { ...req.headers };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return call(this.transport, { ...req, headers }, schema);
  }

  private async sendText(req: TransportRequest): Promise<string> {
    const headers: Record<string, string> = { accept: 'application/x-pem-file, text/plain', ...req.headers };
    const res = await this.transport({ ...req, headers });
    if (res.status >= 400) parseResponse(res); // throws the server's error
    return res.text;
  }

  // ── Public: server and PKI ────────────────────────────────────────────────────────────────

  /** `GET /api/v1/info` — server name, version, organisation, CA fingerprint, whether setup is pending. */
  async info(): Promise<ServerInfo> {
    return this.send({ method: 'GET', path: '/api/v1/info' }, ServerInfoSchema);
  }

  /** `GET /api/v1/pki/ca` — the enterprise CA chain (issuing CA, then root) and the root's fingerprint. */
  async caInfo(): Promise<CaInfo> {
    return this.send({ method: 'GET', path: '/api/v1/pki/ca' }, CaInfoSchema);
  }

  /** `GET /api/v1/pki/ca.pem` — the CA chain as one PEM bundle. */
  async caPem(): Promise<string> {
    return this.sendText({ method: 'GET', path: '/api/v1/pki/ca.pem' });
  }

  /** `GET /api/v1/pki/crl` — the issuing CA's CRL as PEM (`X509 CRL`). */
  async crlPem(): Promise<string> {
    return this.sendText({ method: 'GET', path: '/api/v1/pki/crl' });
  }

  // ── Sign-in ───────────────────────────────────────────────────────────────────────────────

  /** `POST /api/v1/setup` — creates the first Security Administrator from the one-time setup code. */
  async setup(input: z.input<typeof SetupSchema>): Promise<z.infer<typeof SetupResultSchema>> {
    return this.send(
      { method: 'POST', path: '/api/v1/setup', body: requestBody(SetupSchema, input) },
      SetupResultSchema,
    );
  }

  /** `POST /api/v1/auth/login` — signs in and keeps the returned token for later calls. */
  async login(input: z.input<typeof LoginSchema>): Promise<LoginResult> {
    const result = await this.send(
      { method: 'POST', path: '/api/v1/auth/login', body: requestBody(LoginSchema, input) },
      LoginResultSchema,
    );
    this.token = result.token;
    return result;
  }

  /** `POST /api/v1/auth/logout` — ends the session and forgets the token. */
  async logout(): Promise<void> {
    await this.send({ method: 'POST', path: '/api/v1/auth/logout', body: {} }, OkSchema);
    this.token = undefined;
  }

  /** `GET /api/v1/auth/me` — the signed-in administrator. */
  async me(): Promise<AdminRecord> {
    return this.send({ method: 'GET', path: '/api/v1/auth/me' }, AdminSchema);
  }

  /** `POST /api/v1/auth/totp/enroll` — a new TOTP secret (not active until confirmed). */
  async totpEnroll(): Promise<TotpEnrollment> {
    return this.send({ method: 'POST', path: '/api/v1/auth/totp/enroll', body: {} }, TotpEnrollResultSchema);
  }

  /** `POST /api/v1/auth/totp/confirm` — activates TOTP with a current code. */
  async totpConfirm(input: z.input<typeof TotpConfirmSchema>): Promise<AdminRecord> {
    return this.send(
      { method: 'POST', path: '/api/v1/auth/totp/confirm', body: requestBody(TotpConfirmSchema, input) },
      AdminSchema,
    );
  }

  // ── Administrators ────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/admins` (admins:read). */
  async listAdmins(): Promise<z.infer<typeof AdminListSchema>> {
    return this.send({ method: 'GET', path: '/api/v1/admins' }, AdminListSchema);
  }

  /** `POST /api/v1/admins` (admins:manage). */
  async createAdmin(input: z.input<typeof AdminCreateSchema>): Promise<AdminRecord> {
    return this.send(
      { method: 'POST', path: '/api/v1/admins', body: requestBody(AdminCreateSchema, input) },
      AdminSchema,
    );
  }

  /** `PATCH /api/v1/admins/:id` (admins:manage) — changes the role. */
  async updateAdmin(id: string, input: z.input<typeof AdminUpdateSchema>): Promise<AdminRecord> {
    return this.send(
      { method: 'PATCH', path: `/api/v1/admins/${segment(id)}`, body: requestBody(AdminUpdateSchema, input) },
      AdminSchema,
    );
  }

  /** `DELETE /api/v1/admins/:id` (admins:manage). */
  async deleteAdmin(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/admins/${segment(id)}` }, OkSchema);
  }

  // ── Users ─────────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/users` (users:read) — `q` searches email and name; `group` filters by group name. */
  async listUsers(query: z.input<typeof UserListQuerySchema> = {}): Promise<UserPage> {
    const q = requestBody(UserListQuerySchema, query);
    return this.send({ method: 'GET', path: withQuery('/api/v1/users', q) }, UserPageSchema);
  }

  /** `POST /api/v1/users` (users:write). */
  async createUser(input: z.input<typeof UserCreateSchema>): Promise<UserRecord> {
    return this.send(
      { method: 'POST', path: '/api/v1/users', body: requestBody(UserCreateSchema, input) },
      UserSchema,
    );
  }

  /** `GET /api/v1/users/:id` (users:read). */
  async getUser(id: string): Promise<UserRecord> {
    return this.send({ method: 'GET', path: `/api/v1/users/${segment(id)}` }, UserSchema);
  }

  /** `PATCH /api/v1/users/:id` (users:write) — `groups`, when given, replaces the user's groups. */
  async updateUser(id: string, input: z.input<typeof UserUpdateSchema>): Promise<UserRecord> {
    return this.send(
      { method: 'PATCH', path: `/api/v1/users/${segment(id)}`, body: requestBody(UserUpdateSchema, input) },
      UserSchema,
    );
  }

  /** `DELETE /api/v1/users/:id` (users:write). */
  async deleteUser(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/users/${segment(id)}` }, OkSchema);
  }

  /**
   * `POST /api/v1/users/import` (users:write) — CSV with the header `email,name,groups` (groups
   * `;`-separated). Answers a per-row report; rows that fail do not stop the others.
   */
  async importUsersCsv(csv: string): Promise<UserImportReport> {
    return this.send(
      { method: 'POST', path: '/api/v1/users/import', rawBody: csv, contentType: 'text/csv' },
      UserImportResultSchema,
    );
  }

  // ── Groups ────────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/groups` (groups:read). */
  async listGroups(query: z.input<typeof PageQuerySchema> = {}): Promise<GroupPage> {
    const q = requestBody(PageQuerySchema, query);
    return this.send({ method: 'GET', path: withQuery('/api/v1/groups', q) }, GroupPageSchema);
  }

  /** `POST /api/v1/groups` (groups:write). */
  async createGroup(input: z.input<typeof GroupCreateSchema>): Promise<GroupRecord> {
    return this.send(
      { method: 'POST', path: '/api/v1/groups', body: requestBody(GroupCreateSchema, input) },
      GroupSchema,
    );
  }

  /** `GET /api/v1/groups/:id` (groups:read). */
  async getGroup(id: string): Promise<GroupRecord> {
    return this.send({ method: 'GET', path: `/api/v1/groups/${segment(id)}` }, GroupSchema);
  }

  /** `PATCH /api/v1/groups/:id` (groups:write). */
  async updateGroup(id: string, input: z.input<typeof GroupUpdateSchema>): Promise<GroupRecord> {
    return this.send(
      { method: 'PATCH', path: `/api/v1/groups/${segment(id)}`, body: requestBody(GroupUpdateSchema, input) },
      GroupSchema,
    );
  }

  /** `DELETE /api/v1/groups/:id` (groups:write). */
  async deleteGroup(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/groups/${segment(id)}` }, OkSchema);
  }

  // ── Activation passwords ──────────────────────────────────────────────────────────────────

  /**
   * `POST /api/v1/activations` (activations:create) — a one-time activation password. The answer
   * is the only time the password (and its QR payload) exists outside the device.
   */
  async createActivation(input: z.input<typeof ActivationCreateSchema>): Promise<ActivationCreated> {
    return this.send(
      { method: 'POST', path: '/api/v1/activations', body: requestBody(ActivationCreateSchema, input) },
      ActivationCreatedSchema,
    );
  }

  /** `GET /api/v1/activations?email=E` (users:read) — the user's activation passwords (never the secrets). */
  async listActivations(email: string): Promise<z.infer<typeof ActivationListSchema>> {
    return this.send(
      { method: 'GET', path: withQuery('/api/v1/activations', { email }) },
      ActivationListSchema,
    );
  }

  /** `DELETE /api/v1/activations/:id` (activations:create) — revokes an unused activation password. */
  async deleteActivation(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/activations/${segment(id)}` }, OkSchema);
  }

  // ── Devices ───────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/devices` (devices:read). */
  async listDevices(query: z.input<typeof DeviceListQuerySchema> = {}): Promise<DevicePage> {
    const q = requestBody(DeviceListQuerySchema, query);
    return this.send({ method: 'GET', path: withQuery('/api/v1/devices', q) }, DevicePageSchema);
  }

  /** `GET /api/v1/devices/:id` (devices:read) — the device, its certificate and its command history. */
  async getDevice(id: string): Promise<DeviceDetail> {
    return this.send({ method: 'GET', path: `/api/v1/devices/${segment(id)}` }, DeviceDetailSchema);
  }

  /**
   * `POST /api/v1/devices/:id/commands` — queues a remote command (`revoke` needs devices:revoke).
   * A full `wipe` is not queued: the answer is the approval request a second administrator decides.
   */
  async sendDeviceCommand(
    id: string,
    input: z.input<typeof DeviceCommandCreateSchema>,
  ): Promise<DeviceCommand | ApprovalRecord> {
    return this.send(
      {
        method: 'POST',
        path: `/api/v1/devices/${segment(id)}/commands`,
        body: requestBody(DeviceCommandCreateSchema, input),
      },
      z.union([DeviceCommandSchema, ApprovalSchema]),
    );
  }

  /**
   * `POST /api/v1/commands` — one command for devices named by id, user or group. Over the
   * approval threshold, or for a full wipe, the answer is the pending approval request instead.
   *
   * @example
   * const r = await admin.sendBulkCommand({ type: 'lock', groupName: 'Field staff' });
   * if (r.state === 'queued') console.log(r.commands.length);
   */
  async sendBulkCommand(input: z.input<typeof BulkCommandCreateSchema>): Promise<BulkCommandResult> {
    return this.send(
      { method: 'POST', path: '/api/v1/commands', body: requestBody(BulkCommandCreateSchema, input) },
      BulkCommandResultSchema,
    );
  }

  // ── Approvals ─────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/approvals[?state=S]` (devices:read) — approval requests, newest first. */
  async listApprovals(query: z.input<typeof ApprovalListQuerySchema> = {}): Promise<ApprovalRecord[]> {
    const q = requestBody(ApprovalListQuerySchema, query);
    return (await this.send({ method: 'GET', path: withQuery('/api/v1/approvals', q) }, ApprovalListSchema))
      .items;
  }

  /** `POST /api/v1/approvals/:id/approve` (approvals:decide; never the requester) — runs after the delay. */
  async approveRequest(
    id: string,
    input: z.input<typeof ApprovalDecisionSchema> = {},
  ): Promise<ApprovalRecord> {
    return this.send(
      {
        method: 'POST',
        path: `/api/v1/approvals/${segment(id)}/approve`,
        body: requestBody(ApprovalDecisionSchema, input),
      },
      ApprovalSchema,
    );
  }

  /** `POST /api/v1/approvals/:id/deny` (approvals:decide; never the requester). */
  async denyRequest(id: string, input: z.input<typeof ApprovalDecisionSchema> = {}): Promise<ApprovalRecord> {
    return this.send(
      {
        method: 'POST',
        path: `/api/v1/approvals/${segment(id)}/deny`,
        body: requestBody(ApprovalDecisionSchema, input),
      },
      ApprovalSchema,
    );
  }

  /** `POST /api/v1/approvals/:id/cancel` — the requester or a decider stops it before it runs. */
  async cancelRequest(id: string): Promise<ApprovalRecord> {
    return this.send({ method: 'POST', path: `/api/v1/approvals/${segment(id)}/cancel` }, ApprovalSchema);
  }

  // ── Policies ──────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/policies` (policies:read) — every policy with its assignments, the default first. */
  async listPolicies(): Promise<z.infer<typeof PolicyListSchema>> {
    return this.send({ method: 'GET', path: '/api/v1/policies' }, PolicyListSchema);
  }

  /** `POST /api/v1/policies` (policies:write) — settings not given take their defaults. */
  async createPolicy(input: z.input<typeof PolicyCreateSchema>): Promise<PolicyRecord> {
    return this.send(
      { method: 'POST', path: '/api/v1/policies', body: requestBody(PolicyCreateSchema, input) },
      PolicySchema,
    );
  }

  /** `GET /api/v1/policies/:id` (policies:read). */
  async getPolicy(id: string): Promise<PolicyRecord> {
    return this.send({ method: 'GET', path: `/api/v1/policies/${segment(id)}` }, PolicySchema);
  }

  /** `PATCH /api/v1/policies/:id` (policies:write) — `document` is merged over the current settings; bumps the version. */
  async updatePolicy(id: string, input: z.input<typeof PolicyUpdateSchema>): Promise<PolicyRecord> {
    return this.send(
      {
        method: 'PATCH',
        path: `/api/v1/policies/${segment(id)}`,
        body: requestBody(PolicyUpdateSchema, input),
      },
      PolicySchema,
    );
  }

  /** `DELETE /api/v1/policies/:id` (policies:write) — the default policy answers 409 `policy_is_default`. */
  async deletePolicy(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/policies/${segment(id)}` }, OkSchema);
  }

  /** `POST /api/v1/policies/:id/assignments` (policies:write) — `{ userId }` or `{ groupId, rank }`. */
  async assignPolicy(id: string, input: z.input<typeof PolicyAssignSchema>): Promise<PolicyRecord> {
    return this.send(
      {
        method: 'POST',
        path: `/api/v1/policies/${segment(id)}/assignments`,
        body: requestBody(PolicyAssignSchema, input),
      },
      PolicySchema,
    );
  }

  /** `DELETE /api/v1/policies/:id/assignments/users/:userId` or `…/groups/:groupId` (policies:write). */
  async unassignPolicy(id: string, target: { userId: string } | { groupId: string }): Promise<PolicyRecord> {
    const tail = 'userId' in target ? `users/${segment(target.userId)}` : `groups/${segment(target.groupId)}`;
    return this.send(
      { method: 'DELETE', path: `/api/v1/policies/${segment(id)}/assignments/${tail}` },
      PolicySchema,
    );
  }

  /** `GET /api/v1/policies/effective` (policies:read) — which policy applies to a user or device, and why. */
  async effectivePolicy(query: z.input<typeof EffectivePolicyQuerySchema>): Promise<EffectivePolicyRecord> {
    const q = requestBody(EffectivePolicyQuerySchema, query);
    return this.send(
      { method: 'GET', path: withQuery('/api/v1/policies/effective', q) },
      EffectivePolicySchema,
    );
  }

  /** `GET /api/v1/policies/:id/affected` (policies:read) — users whose effective policy is this one. */
  async policyAffected(id: string): Promise<z.infer<typeof PolicyAffectedSchema>> {
    return this.send(
      { method: 'GET', path: `/api/v1/policies/${segment(id)}/affected` },
      PolicyAffectedSchema,
    );
  }

  // ── Audit ─────────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/audit` (audit:read). */
  async listAudit(query: z.input<typeof AuditListQuerySchema> = {}): Promise<AuditPage> {
    const q = requestBody(AuditListQuerySchema, query);
    return this.send({ method: 'GET', path: withQuery('/api/v1/audit', q) }, AuditPageSchema);
  }

  /** `GET /api/v1/audit/verify` (audit:read) — walks the hash chain end to end. */
  async verifyAudit(): Promise<AuditVerification> {
    return this.send({ method: 'GET', path: '/api/v1/audit/verify' }, AuditVerifySchema);
  }

  // ── Webhooks ──────────────────────────────────────────────────────────────────────────────

  /** `GET /api/v1/webhooks` (webhooks:read). */
  async listWebhooks(): Promise<z.infer<typeof WebhookListSchema>> {
    return this.send({ method: 'GET', path: '/api/v1/webhooks' }, WebhookListSchema);
  }

  /** `POST /api/v1/webhooks` (webhooks:manage) — answers the signing secret, which is never shown again. */
  async createWebhook(input: z.input<typeof WebhookCreateSchema>): Promise<WebhookCreated> {
    return this.send(
      { method: 'POST', path: '/api/v1/webhooks', body: requestBody(WebhookCreateSchema, input) },
      WebhookWithSecretSchema,
    );
  }

  /** `GET /api/v1/webhooks/:id` (webhooks:read). */
  async getWebhook(id: string): Promise<WebhookRecord> {
    return this.send({ method: 'GET', path: `/api/v1/webhooks/${segment(id)}` }, WebhookSchema);
  }

  /** `PATCH /api/v1/webhooks/:id` (webhooks:manage). */
  async updateWebhook(id: string, input: z.input<typeof WebhookUpdateSchema>): Promise<WebhookRecord> {
    return this.send(
      {
        method: 'PATCH',
        path: `/api/v1/webhooks/${segment(id)}`,
        body: requestBody(WebhookUpdateSchema, input),
      },
      WebhookSchema,
    );
  }

  /** `DELETE /api/v1/webhooks/:id` (webhooks:manage) — its delivery log goes with it. */
  async deleteWebhook(id: string): Promise<void> {
    await this.send({ method: 'DELETE', path: `/api/v1/webhooks/${segment(id)}` }, OkSchema);
  }

  /** `POST /api/v1/webhooks/:id/rotate-secret` (webhooks:manage) — answers the new secret, once. */
  async rotateWebhookSecret(id: string): Promise<WebhookCreated> {
    return this.send(
      { method: 'POST', path: `/api/v1/webhooks/${segment(id)}/rotate-secret` },
      WebhookWithSecretSchema,
    );
  }

  /** `POST /api/v1/webhooks/:id/test` (webhooks:manage) — queues a `webhook.test` event. */
  async testWebhook(id: string): Promise<WebhookDeliveryRecord> {
    return this.send({ method: 'POST', path: `/api/v1/webhooks/${segment(id)}/test` }, WebhookDeliverySchema);
  }

  /** `GET /api/v1/webhooks/:id/deliveries` (webhooks:read) — newest first, each with its attempts. */
  async listWebhookDeliveries(
    id: string,
    query: z.input<typeof WebhookDeliveryQuerySchema> = {},
  ): Promise<WebhookDeliveryPage> {
    const q = requestBody(WebhookDeliveryQuerySchema, query);
    return this.send(
      { method: 'GET', path: withQuery(`/api/v1/webhooks/${segment(id)}/deliveries`, q) },
      WebhookDeliveryPageSchema,
    );
  }
}
