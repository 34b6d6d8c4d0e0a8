import fs from 'node:fs';
import { buildApp } from './app.js';
import { openEnclave } from './bootstrap.js';
import { SYSTEM } from './modules/audit/index.js';
import { ServerConfigSchema, type ServerConfigInput } from './platform/config/config.js';
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

const PURGE_INTERVAL_MS = 60_000;
const APPROVALS_INTERVAL_MS = 5_000;
const MESSAGE_RETENTION_DAYS = 30;

/**
 * `enclave server`: opens (or initialises) the installation and serves API, stream and console on
 * one HTTPS listener. Prints the banner and a ready line through `print`.
 */
export async function runServer(
  input: ServerConfigInput,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  env = process.env,
): Promise<RunningServer> {
  const cfg = ServerConfigSchema.parse(input);
  const hosts = ['localhost', '127.0.0.1', '::1'];
  if (!['0.0.0.0', '::'].includes(cfg.listen.host) && !hosts.includes(cfg.listen.host))
    hosts.push(cfg.listen.host);
  const enclave = await openEnclave({
    dataDir: cfg.dataDir,
    dbUrl: cfg.dbUrl,
    organization: cfg.organization,
    env,
    hosts,
  });
  let https = { key: enclave.tls.keyPem, cert: `${enclave.tls.certPem}\n${enclave.tls.chainPem}` };
  if (cfg.tlsCertFile && cfg.tlsKeyFile)
    https = { key: fs.readFileSync(cfg.tlsKeyFile, 'utf8'), cert: fs.readFileSync(cfg.tlsCertFile, 'utf8') };
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
  });
  try {
    await app.listen({ host: cfg.listen.host, port: cfg.listen.port });
  } catch (err) {
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
  if (enclave.created)
    await services.audit.record({
      actor: SYSTEM,
      action: 'system.initialised',
      details: { organization: enclave.pki.organization, caFingerprint: enclave.pki.caFingerprint },
    });
  await services.audit.record({
    actor: SYSTEM,
    action: 'system.started',
    details: { version: VERSION, url },
  });
  const setupCode = await services.setup.issueCodeIfNeeded();

  const purge = setInterval(() => {
    void services.activation.purge().catch(() => undefined);
    void services.deviceAuth.purge().catch(() => undefined);
    // Ciphertext nobody acknowledged within the retention period is dropped.
    void services.messaging.purge(MESSAGE_RETENTION_DAYS).catch(() => undefined);
  }, PURGE_INTERVAL_MS);
  purge.unref();
  // Compliance sweep (out of contact, grace periods ending): once per minute across all nodes.
  services.complianceJob.start((err) => app.log.error({ err }, 'compliance sweep failed'));
  // Guardrails: expire undecided approval requests, run approved ones whose delay has elapsed.
  const approvalsTick = setInterval(() => {
    void services.approvals.runDue().catch(() => undefined);
  }, APPROVALS_INTERVAL_MS);
  approvalsTick.unref();

  if (cfg.json) {
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
      }),
    );
  } else {
    print(`Enclave ${VERSION} — ${enclave.pki.organization}${enclave.created ? ' (new installation)' : ''}`);
    print(`  URL             ${url}`);
    print(`  CA fingerprint  ${enclave.pki.caFingerprint}`);
    print(`  Database        ${enclave.handle.description}`);
    if (metricsUrl)
      print(`  Metrics         ${metricsUrl}   (plain HTTP, no auth: keep it on loopback or firewalled)`);
    if (enclave.kek.source === 'file') {
      print(`  Key file        ${kekFilePath(cfg.dataDir)}${enclave.kek.created ? ' (created now)' : ''}`);
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
      await app.close();
      await enclave.close();
    },
  };
}
