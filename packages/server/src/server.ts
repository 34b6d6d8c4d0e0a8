import fs from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { buildApp, type Services } from './app.js';
import { type Enclave, openEnclave } from './bootstrap.js';
import { SYSTEM } from './modules/audit/index.js';
import { type ServerConfig, ServerConfigSchema, type ServerConfigInput } from './platform/config/config.js';
import { type Bus, InProcessBus } from './platform/bus/bus.js';
import { NatsTransport, type NatsTransportLog } from './platform/bus/nats.js';
import { JobLeaseRepository } from './modules/compliance/index.js';
import { kekFilePath } from './platform/keystore/kek.js';
import { type MetricsListener, startMetricsListener } from './platform/metrics/metrics.js';
import { VERSION } from './version.js';

export interface RunningServer {
  url: string;
  caFingerprint: string;
  setupCode: string | null;
  /** `http://HOST:PORT/metrics` when `metricsListen` is set. */
  metricsUrl?: string;
  close(): Promise<void>;
}

/**
 * How a cluster worker runs (workers.ts): the primary has initialised the installation, issued the
 * setup code, recorded `system.started` and prints the banner, so a worker does none of these.
 */
export interface WorkerRole {
  /** The bus between the node's workers (IPC) when no NATS is configured. */
  bus?: Bus;
  /** Called once the app is built, before it listens (headers, metrics aggregation). */
  attach?: (app: FastifyInstance, services: Services) => void;
}

const PURGE_INTERVAL_MS = 60_000;
const APPROVALS_INTERVAL_MS = 5_000;
const MESSAGE_RETENTION_DAYS = 30;

/**
 * Opens (or creates) the installation a server serves: the TLS certificate names the loopback names
 * and the listen host unless it is a wildcard.
 */
export function openForServing(cfg: ServerConfig, env: NodeJS.ProcessEnv): Promise<Enclave> {
  const hosts = ['localhost', '127.0.0.1', '::1'];
  if (!['0.0.0.0', '::'].includes(cfg.listen.host) && !hosts.includes(cfg.listen.host))
    hosts.push(cfg.listen.host);
  return openEnclave({
    dataDir: cfg.dataDir,
    dbUrl: cfg.dbUrl,
    organization: cfg.organization,
    env,
    hosts,
  });
}

/**
 * `enclave server`: opens (or initialises) the installation and serves API, stream and console on
 * one HTTPS listener. Prints the banner and a ready line through `print`.
 */
export async function runServer(
  input: ServerConfigInput,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  env = process.env,
  worker?: WorkerRole,
): Promise<RunningServer> {
  const cfg = ServerConfigSchema.parse(input);
  const enclave = await openForServing(cfg, env);
  let https = { key: enclave.tls.keyPem, cert: `${enclave.tls.certPem}\n${enclave.tls.chainPem}` };
  if (cfg.tlsCertFile && cfg.tlsKeyFile)
    https = { key: fs.readFileSync(cfg.tlsKeyFile, 'utf8'), cert: fs.readFileSync(cfg.tlsCertFile, 'utf8') };
  // Cluster mode: every process (each worker too) joins NATS; a start without NATS fails here.
  // Without NATS the bus is the workers' IPC one (worker.bus) or, for one process, in-process.
  const appLog: { current?: NatsTransportLog } = {}; // the app's logger, once the app exists
  let natsBus: Bus | undefined;
  if (cfg.natsUrl) {
    const log: NatsTransportLog = {
      info: (o, m) => appLog.current?.info(o, m),
      warn: (o, m) => appLog.current?.warn(o, m),
    };
    try {
      const transport = await NatsTransport.connect({
        url: cfg.natsUrl,
        scope: enclave.pki.caFingerprint,
        log,
      });
      natsBus = new InProcessBus((err, event) => log.warn({ err, event }, 'bus handler failed'), transport);
    } catch (err) {
      await enclave.close();
      throw err;
    }
  }
  const displayHost = cfg.listen.host.includes(':') ? `[${cfg.listen.host}]` : cfg.listen.host;
  let publicUrl = cfg.publicUrl ?? `https://${displayHost}:${cfg.listen.port}`;
  const { app, services } = await buildApp(enclave, {
    publicUrl,
    deviceLimit: cfg.deviceLimit,
    attachmentLimitBytes: cfg.attachmentLimitMb * 1024 * 1024,
    approvals: {
      bulkThreshold: cfg.approvalThreshold,
      delayMs: cfg.approvalDelaySeconds * 1000,
      wipeLimit: cfg.wipeLimitPerHour,
    },
    https,
    logger: { level: cfg.logLevel, stream: process.stderr },
    ...(worker?.bus ? { bus: worker.bus } : {}),
    ...(natsBus ? { bus: natsBus } : {}),
  });
  appLog.current = app.log;
  worker?.attach?.(app, services);
  try {
    await app.listen({ host: cfg.listen.host, port: cfg.listen.port });
  } catch (err) {
    await natsBus?.close();
    await enclave.close();
    throw new Error(
      `cannot listen on ${cfg.listen.host}:${cfg.listen.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { cause: err },
    );
  }
  // Prometheus metrics: plain HTTP on their own address, only when asked for (no auth: loopback or firewall).
  let metricsListener: MetricsListener | undefined;
  if (cfg.metricsListen) {
    try {
      metricsListener = await startMetricsListener(services.metrics, cfg.metricsListen, (err) =>
        app.log.error({ err }, 'metrics scrape failed'),
      );
    } catch (err) {
      await app.close();
      await natsBus?.close();
      await enclave.close();
      throw new Error(
        `cannot listen for metrics on ${cfg.metricsListen.host}:${cfg.metricsListen.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
  }
  const metricsUrl = metricsListener
    ? `http://${metricsListener.host.includes(':') ? `[${metricsListener.host}]` : metricsListener.host}:${metricsListener.port}/metrics`
    : undefined;
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.listen.port;
  const url = `https://${displayHost}:${port}`;
  if (!cfg.publicUrl) publicUrl = url;
  if (enclave.created && !worker)
    await services.audit.record({
      actor: SYSTEM,
      action: 'system.initialised',
      details: { organization: enclave.pki.organization, caFingerprint: enclave.pki.caFingerprint },
    });
  if (!worker)
    await services.audit.record({
      actor: SYSTEM,
      action: 'system.started',
      details: { version: VERSION, url },
    });
  const setupCode = worker ? null : await services.setup.issueCodeIfNeeded();

  // Scheduled jobs run once per interval across the cluster: the process holding the job's
  // database lease runs it, the others skip (as the compliance sweep does).
  const leases = new JobLeaseRepository(enclave.handle.db);
  const holder = crypto.randomUUID();
  const onceInCluster = (job: string, ttlMs: number, run: () => Promise<unknown>) =>
    void leases
      .acquire(job, holder, new Date(), ttlMs)
      .then((mine) => (mine ? run() : undefined))
      .catch((err: unknown) => app.log.warn({ err, job }, 'scheduled job failed'));
  const purge = setInterval(() => {
    onceInCluster('purge', PURGE_INTERVAL_MS - 5_000, () =>
      Promise.all([
        services.activation.purge(),
        services.deviceAuth.purge(),
        // Ciphertext nobody acknowledged within the retention period is dropped.
        services.messaging.purge(MESSAGE_RETENTION_DAYS),
      ]),
    );
  }, PURGE_INTERVAL_MS);
  purge.unref();
  // Compliance sweep (out of contact, grace periods ending): once per minute across all nodes.
  services.complianceJob.start((err) => app.log.error({ err }, 'compliance sweep failed'));
  // Guardrails: expire undecided approval requests, run approved ones whose delay has elapsed.
  const approvalsTick = setInterval(() => {
    onceInCluster('approvals.run_due', APPROVALS_INTERVAL_MS - 1_000, () => services.approvals.runDue());
  }, APPROVALS_INTERVAL_MS);
  approvalsTick.unref();

  if (!worker)
    printReady(print, { json: cfg.json, dataDir: cfg.dataDir, url, setupCode, metricsUrl }, enclave);

  let closed = false;
  return {
    url,
    caFingerprint: enclave.pki.caFingerprint,
    setupCode,
    ...(metricsUrl ? { metricsUrl } : {}),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(purge);
      await services.complianceJob.stop();
      clearInterval(approvalsTick);
      await metricsListener?.close();
      // Stops accepting, closes streams with 1001, lets requests in flight finish; then the bus and the database.
      await app.close();
      await natsBus?.close();
      await enclave.close();
    },
  };
}

/** The banner and the ready line (one JSON document with `json`), printed once per node. */
export function printReady(
  print: (line: string) => void,
  o: {
    json: boolean;
    dataDir: string;
    url: string;
    setupCode: string | null;
    metricsUrl?: string | undefined;
    /** Worker processes serving the node (cluster mode only). */
    workers?: number;
  },
  enclave: Pick<Enclave, 'pki' | 'handle' | 'created' | 'kek'>,
): void {
  const { url, setupCode, metricsUrl } = o;
  if (o.json) {
    print(
      JSON.stringify({
        event: 'ready',
        url,
        caFingerprint: enclave.pki.caFingerprint,
        organization: enclave.pki.organization,
        setupCode,
        version: VERSION,
        database: enclave.handle.description,
        ...(metricsUrl ? { metricsUrl } : {}),
        ...(o.workers ? { workers: o.workers } : {}),
      }),
    );
  } else {
    print(`Enclave ${VERSION} — ${enclave.pki.organization}${enclave.created ? ' (new installation)' : ''}`);
    print(`  URL             ${url}`);
    print(`  CA fingerprint  ${enclave.pki.caFingerprint}`);
    print(`  Database        ${enclave.handle.description}`);
    if (o.workers) print(`  Workers         ${o.workers} processes`);
    if (metricsUrl)
      print(`  Metrics         ${metricsUrl}   (plain HTTP, no auth: keep it on loopback or firewalled)`);
    if (enclave.kek.source === 'file') {
      print(`  Key file        ${kekFilePath(o.dataDir)}${enclave.kek.created ? ' (created now)' : ''}`);
      print(
        '  WARNING: the key-encryption key is stored next to the data it protects. Move it off this disk:',
      );
      print('           keep a copy in your password vault and run with ENCLAVE_KEK set instead.');
    }
    if (setupCode) {
      print(`  Setup code      ${setupCode}   (one-time; create the first Security Administrator with:)`);
      print(
        `    enclave setup --server ${url} --code ${setupCode} --email you@example.com --password-file ./admin-password`,
      );
    }
    print(`Enclave ready at ${url} (CA fingerprint ${enclave.pki.caFingerprint})`);
  }
}
