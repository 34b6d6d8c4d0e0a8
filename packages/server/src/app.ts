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
import { DashboardRepository, DashboardService, dashboardRoutes } from './modules/dashboard/index.js';
import { PkiService, pkiRoutes } from './modules/pki/index.js';
import { SettingsService, settingsRoutes } from './modules/settings/index.js';
import { SelfServiceService, selfServiceRoutes } from './modules/selfservice/index.js';
import { CLOSE, registerStream, StreamHub } from './modules/stream/index.js';
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
import { buildOpenApi } from './platform/http/openapi.js';
import { Metrics } from './platform/metrics/metrics.js';
import { wireHttpMetrics, wireServiceMetrics } from './metrics.wiring.js';
import { installErrorHandler, registerRoutes } from './platform/http/register.js';
import { defaultConsoleDir, registerConsole } from './platform/http/console.js';
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
  /** The built web console to serve at `/` (default packages/console/dist/web); false serves none. */
  consoleDir?: string | false;
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
  settings: SettingsService;
  dashboard: DashboardService;
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
  // `--device-limit` is the default until an administrator saves one in the settings.
  const settings = new SettingsService(enclave.meta, audit, enclave.pki, {
    deviceLimit: opts.deviceLimit ?? 5,
    tlsCertPem: () => enclave.tls.certPem,
  });
  const deviceRepo = new DeviceRepository(db);
  const commands = new CommandService(db, pki, audit, bus);
  // The approvals guard sends approved commands through the device service, which it also guards.
  const approvals: ApprovalService = new ApprovalService(
    new ApprovalRepository(db),
    (): DeviceService => devices,
    audit,
    opts.approvals,
  );
  const devices: DeviceService = new DeviceService(
    deviceRepo,
    pki,
    audit,
    bus,
    commands,
    approvals,
    (userId) =>
      policies.effective({ userId }).then((e) => ({
        id: e.policy.id,
        name: e.policy.name,
        version: e.policy.version,
        source: e.source,
        explanation: e.explanation,
      })),
  );
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
      defaults: () => settings.activationDefaults(),
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
    // The same limit activation enforces: the installation default (settings) and the policy's.
    selfService: new SelfServiceService(db, users, activation, commands, audit, (userId, email) =>
      activation.deviceLimitOf(userId, email),
    ),
    activation,
    messaging,
    attachments,
    bus,
    webhooks,
    webhookDispatcher,
    metrics: opts.metrics ?? new Metrics(),
    settings,
    // `connectedNow` is wired to the stream hub by buildApp.
    dashboard: new DashboardService(new DashboardRepository(db), audit),
  };
}

const ReadinessSchema = z.object({
  ok: z.boolean(),
  database: z.enum(['up', 'down']),
  bus: z.enum(['up', 'down']),
  error: z.object({ code: z.literal('service_unavailable'), message: z.string() }).optional(),
});

/** `up` if the database answers `select 1` within 3 s. */
async function databaseAnswers(db: Enclave['handle']['db']): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'down'>((resolve) => {
    timer = setTimeout(() => resolve('down'), 3_000);
  });
  try {
    return await Promise.race([
      sql`select 1`.execute(db).then(
        () => 'up' as const,
        () => 'down' as const,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
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
      summary: 'Readiness: the database answers and the bus reaches the other nodes (503 if not)',
      tag: 'ops',
      auth: 'none',
      response: ReadinessSchema,
      handler: async ({ reply }) => {
        const database = await databaseAnswers(enclave.handle.db);
        const bus = s.bus.health().status;
        if (database === 'up' && bus === 'up') return { ok: true as const, database, bus };
        // Not an error of the caller's: load balancers read the status, operators the body.
        return reply.code(503).send({
          ok: false,
          database,
          bus,
          error: {
            code: 'service_unavailable',
            message:
              database === 'down'
                ? 'the database is not reachable'
                : 'the message bus (NATS) is not reachable; this node serves only its own connections',
          },
        });
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
    ...dashboardRoutes(s.dashboard),
    ...settingsRoutes(s.settings),
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
  await app.register(websocket, {
    options: { maxPayload: MAX_CLIENT_FRAME_BYTES },
    // Shutdown: streams close with 1001 "going away" (devices reconnect, to another node in a
    // cluster), and closing waits for their close handshakes (ws cuts a silent one after 30 s).
    preClose(done) {
      for (const c of app.websocketServer.clients) c.close(CLOSE.shutdown, 'server_shutdown');
      app.websocketServer.close(() => done());
    },
  });
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
    // The console's hashed assets set their own (immutable); everything else is never cached.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
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
  if (opts.consoleDir !== false) await registerConsole(app, opts.consoleDir ?? defaultConsoleDir());
  const hub = new StreamHub(services.messaging, services.commands, services.bus, app.log, {
    inactiveAmong: (ids) => services.devices.inactiveAmong(ids),
  });
  // Devices connected now across the cluster (every node and worker announces its count).
  services.dashboard.connectedNow = () => hub.clusterConnectedDevices();
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
