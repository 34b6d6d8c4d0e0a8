import cookie from '@fastify/cookie';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { MAX_CLIENT_FRAME_BYTES } from '@enclave/protocol';
import type { Enclave } from './bootstrap.js';
import { ActivationRepository, ActivationService, activationRoutes } from './modules/activation/index.js';
import {
  AdminRepository,
  AdminService,
  AuthService,
  SetupService,
  adminRoutes,
} from './modules/admins/index.js';
import {
  type ApprovalOptions,
  ApprovalRepository,
  ApprovalService,
  approvalRoutes,
} from './modules/approvals/index.js';
import { AuditRepository, AuditService, auditRoutes } from './modules/audit/index.js';
import {
  ComplianceJob,
  ComplianceRepository,
  ComplianceService,
  complianceRoutes,
  JobLeaseRepository,
} from './modules/compliance/index.js';
import {
  CommandService,
  DeviceAuthService,
  DeviceRepository,
  DeviceService,
  deviceRoutes,
} from './modules/devices/index.js';
import {
  AttachmentService,
  MessagingRepository,
  MessagingService,
  messagingRoutes,
} from './modules/messaging/index.js';
import { PkiService, pkiRoutes } from './modules/pki/index.js';
import { SelfServiceService, selfServiceRoutes } from './modules/selfservice/index.js';
import { registerStream, StreamHub } from './modules/stream/index.js';
import { PolicyRepository, PolicyService, policyRoutes } from './modules/policies/index.js';
import { GroupService, UserRepository, UserService, userRoutes } from './modules/users/index.js';
import {
  subscribeWebhooks,
  WebhookDispatcher,
  type WebhookDispatchOptions,
  WebhookRepository,
  WebhookService,
  webhookRoutes,
} from './modules/webhooks/index.js';
import { type Bus, InProcessBus } from './platform/bus/bus.js';
import { AppError } from './platform/http/app-error.js';
import { buildOpenApi } from './platform/http/openapi.js';
import { Metrics } from './platform/metrics/metrics.js';
import { wireHttpMetrics, wireServiceMetrics } from './metrics.wiring.js';
import { installErrorHandler, registerRoutes } from './platform/http/register.js';
import { route, type RouteSpec } from './platform/http/route.js';
import { VERSION } from './version.js';

/** Request bodies above this are refused with 413 `body_too_large` before they are parsed. */
export const BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  publicUrl: string;
  deviceLimit?: number;
  logger?: FastifyServerOptions['logger'];
  https?: { key: string; cert: string };
  /** Largest attachment in bytes (default 100 MB). */
  attachmentLimitBytes?: number;
  /** The event bus; a single node uses the in-process one. */
  bus?: Bus;
  /** Webhook delivery timing (retry schedule, timeout, poll interval); tests shorten it. */
  webhooks?: WebhookDispatchOptions;
  /** Guardrails: bulk threshold, approval expiry, cancellable delay, wipe rate limit. */
  approvals?: ApprovalOptions;
  /** The Prometheus registry this node reports to (a fresh one by default). */
  metrics?: Metrics;
}

export interface Services {
  audit: AuditService;
  auth: AuthService;
  admins: AdminService;
  setup: SetupService;
  users: UserService;
  groups: GroupService;
  policies: PolicyService;
  pki: PkiService;
  devices: DeviceService;
  deviceAuth: DeviceAuthService;
  commands: CommandService;
  compliance: ComplianceService;
  /** The scheduled compliance sweep; `enclave server` starts it (tests call `runOnce`). */
  complianceJob: ComplianceJob;
  approvals: ApprovalService;
  selfService: SelfServiceService;
  activation: ActivationService;
  messaging: MessagingService;
  attachments: AttachmentService;
  bus: Bus;
  webhooks: WebhookService;
  webhookDispatcher: WebhookDispatcher;
  metrics: Metrics;
}

/** Wires repositories → services → routes. Each service names its own dependencies. */
export function buildServices(enclave: Enclave, opts: AppOptions): Services {
  const db = enclave.handle.db;
  const bus = opts.bus ?? new InProcessBus();
  const audit = new AuditService(new AuditRepository(db));
  const adminRepo = new AdminRepository(db);
  const auth = new AuthService(adminRepo, audit, enclave.secrets, { organization: enclave.pki.organization });
  const admins = new AdminService(adminRepo, audit);
  const setup = new SetupService(enclave.meta, adminRepo, admins);
  const userRepo = new UserRepository(db);
  const users = new UserService(userRepo, audit, bus);
  const groups = new GroupService(userRepo, audit);
  const policies = new PolicyService(new PolicyRepository(db), userRepo, audit, bus);
  const pki = new PkiService(db, enclave.pki);
  const deviceRepo = new DeviceRepository(db);
  const commands = new CommandService(db, pki, audit, bus);
  // The approvals guard sends approved commands through the device service, which it also guards.
  const approvals: ApprovalService = new ApprovalService(
    new ApprovalRepository(db),
    (): DeviceService => devices,
    audit,
    opts.approvals,
  );
  const devices: DeviceService = new DeviceService(deviceRepo, pki, audit, bus, commands, approvals);
  const deviceAuth = new DeviceAuthService(deviceRepo, pki, audit, commands, policies);
  bus.subscribe('command.state_changed', (e) =>
    e.state === 'done' && (e.type === 'wipe-work' || e.type === 'wipe')
      ? devices.deactivateAfterWipe(e.deviceId)
      : undefined,
  );
  const compliance = new ComplianceService(
    new ComplianceRepository(db),
    policies,
    {
      wipeWork: async (deviceId, reason) => {
        const cmd = await commands.create(deviceId, 'wipe-work', null, {});
        await audit.record({
          actor: { type: 'system', id: null, label: 'compliance' },
          action: 'device.command_sent',
          target: deviceId,
          details: { commandId: cmd.id, type: 'wipe-work', reason },
        });
      },
      revoke: (deviceId, reason) => devices.revokeBySystem(deviceId, reason),
    },
    audit,
    bus,
  );
  bus.subscribe('policy.changed', ({ userIds }) => compliance.evaluateUsers(userIds).then(() => undefined));
  const complianceJob = new ComplianceJob(new JobLeaseRepository(db), compliance);
  const activation = new ActivationService(
    new ActivationRepository(db),
    users,
    deviceRepo,
    pki,
    audit,
    enclave.secrets,
    {
      serverSetup: enclave.serverSetup,
      publicUrl: opts.publicUrl,
      deviceLimit: opts.deviceLimit ?? 5,
      deviceLimitFor: (userId, email) =>
        policies.forDevice(userId, email).then((p) => p.document.devicesPerUser),
    },
    bus,
  );
  const messaging = new MessagingService(new MessagingRepository(db), users, bus);
  bus.subscribe('device.activated', ({ deviceId, userId }) => messaging.onDeviceActivated(deviceId, userId));
  bus.subscribe('device.revoked', ({ deviceId }) => messaging.onDeviceRevoked(deviceId));
  const attachments = new AttachmentService(db, enclave.dataDir, opts.attachmentLimitBytes);
  const webhookRepo = new WebhookRepository(db);
  const webhookDispatcher = new WebhookDispatcher(webhookRepo, enclave.secrets, opts.webhooks);
  const webhooks = new WebhookService(webhookRepo, audit, enclave.secrets, () => webhookDispatcher.kick());
  subscribeWebhooks(bus, webhooks);
  return {
    audit,
    auth,
    admins,
    setup,
    users,
    groups,
    policies,
    pki,
    devices,
    deviceAuth,
    commands,
    compliance,
    complianceJob,
    approvals,
    selfService: new SelfServiceService(db, users, activation, commands, audit, (userId, email) =>
      policies.forDevice(userId, email).then((p) => p.document.devicesPerUser),
    ),
    activation,
    messaging,
    attachments,
    bus,
    webhooks,
    webhookDispatcher,
    metrics: opts.metrics ?? new Metrics(),
  };
}

/** The full route table (used by the server, the OpenAPI generator and the role-matrix test). */
export function routeTable(s: Services, enclave: Enclave): RouteSpec[] {
  const ops: RouteSpec[] = [
    route({
      method: 'GET',
      url: '/healthz',
      summary: 'Liveness',
      tag: 'ops',
      auth: 'none',
      response: z.object({ ok: z.literal(true) }),
      handler: () => Promise.resolve({ ok: true as const }),
    }),
    route({
      method: 'GET',
      url: '/readyz',
      summary: 'Readiness: the database answers',
      tag: 'ops',
      auth: 'none',
      response: z.object({ ok: z.literal(true), database: z.literal('up') }),
      handler: async () => {
        try {
          await sql`select 1`.execute(enclave.handle.db);
        } catch {
          throw new AppError(503, 'service_unavailable', 'the database is not reachable');
        }
        return { ok: true as const, database: 'up' as const };
      },
    }),
  ];
  return [
    ...ops,
    ...pkiRoutes(s.pki, { version: VERSION, setupRequired: () => s.setup.isRequired() }),
    ...adminRoutes(s.auth, s.admins, s.setup),
    ...userRoutes(s.users, s.groups),
    ...policyRoutes(s.policies),
    ...activationRoutes(s.activation),
    ...deviceRoutes(s.devices, s.deviceAuth, s.commands),
    ...complianceRoutes(s.compliance),
    ...approvalRoutes(s.approvals),
    ...messagingRoutes(s.messaging, s.attachments),
    ...auditRoutes(s.audit),
    ...selfServiceRoutes(s.selfService),
    ...webhookRoutes(s.webhooks),
  ];
}

/** Builds the Fastify app with every route; `app.inject` drives it in tests without a port. */
export async function buildApp(
  enclave: Enclave,
  opts: AppOptions,
): Promise<{ app: FastifyInstance; routes: RouteSpec[]; services: Services; hub: StreamHub }> {
  const app = Fastify({
    logger: opts.logger ?? false,
    bodyLimit: BODY_LIMIT,
    ...(opts.https
      ? { https: { key: opts.https.key, cert: opts.https.cert, minVersion: 'TLSv1.2' as const } }
      : {}),
    requestIdHeader: false,
    genReqId: () => crypto.randomUUID(),
    // A query string like ?a=1&a=2 becomes an array; zod then rejects it with a clear message.
    routerOptions: { maxParamLength: 200 },
  });
  await app.register(cookie);
  await app.register(websocket, { options: { maxPayload: MAX_CLIENT_FRAME_BYTES } });
  // Bodies are JSON (docs/API.md) except the CSV import; Fastify's default text/plain parser would
  // hand a string to the JSON routes, which then fail validation instead of answering 415.
  app.removeContentTypeParser('text/plain');
  // Attachments arrive as a raw stream: the route streams them to disk under its own size limit.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  installErrorHandler(app);
  app.addHook('onSend', (_req, reply, payload, done) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('strict-transport-security', 'max-age=31536000');
    done(null, payload);
  });
  const services = buildServices(enclave, opts);
  wireServiceMetrics(services.metrics, services, enclave);
  wireHttpMetrics(services.metrics, app, () => hub.connectedDevices);
  const routes = routeTable(services, enclave);
  let openapi: Record<string, unknown> = {};
  const all = [
    ...routes,
    route({
      method: 'GET',
      url: '/api/v1/openapi.json',
      summary: 'This OpenAPI document',
      tag: 'ops',
      auth: 'none',
      handler: () => Promise.resolve(openapi),
    }),
  ];
  openapi = buildOpenApi(all, VERSION); // built from `all`, so the document lists itself as docs/API.md does
  registerRoutes(app, all, {
    admin: (r) => services.auth.authenticate(r),
    device: (r) => services.deviceAuth.authenticate(r),
    employee: (r) => services.selfService.authenticate(r),
  });
  const hub = new StreamHub(services.messaging, services.commands, services.bus, app.log);
  registerStream(app, hub, (r) => services.deviceAuth.authenticate(r));
  // Webhook deliveries are sent by this node while it runs; the round in flight ends before the database closes.
  services.webhookDispatcher.start(app.log);
  app.addHook('onClose', async () => {
    await services.webhookDispatcher.stop();
  });
  app.addHook('onClose', (_instance, done) => {
    hub.close();
    done();
  });
  return { app, routes: all, services, hub };
}
