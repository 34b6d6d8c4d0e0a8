import cluster, { type Worker } from 'node:cluster';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { FastifyBaseLogger } from 'fastify';
import { AggregatorRegistry } from 'prom-client';
import { buildServices } from './app.js';
import { SYSTEM } from './modules/audit/index.js';
import { InProcessBus } from './platform/bus/bus.js';
import { IpcTransport, relayBusMessages } from './platform/bus/ipc.js';
import { type ServerConfig, type ServerConfigInput, ServerConfigSchema } from './platform/config/config.js';
import { Metrics, type MetricsListener, startMetricsListener } from './platform/metrics/metrics.js';
import { openForServing, printReady, type RunningServer, runServer } from './server.js';
import { VERSION } from './version.js';

/** The module a worker process runs (`worker-main.ts`, next to this file once built). */
const WORKER_ENTRY = fileURLToPath(new URL('./worker-main.js', import.meta.url));
/** A worker that is not serving within this time is killed, and the start fails. */
const WORKER_START_TIMEOUT_MS = 60_000;
/** Graceful stop: workers still running after this are killed. */
const WORKER_STOP_TIMEOUT_MS = 15_000;
/** A worker that dies sooner than this after starting counts as crashing (longer restart backoff). */
const QUICK_DEATH_MS = 10_000;
const RESTART_BACKOFF_MS = { first: 250, max: 30_000 };

/** Messages between the primary and its workers (besides the bus's and prom-client's). */
type ToWorker = { t: 'enclave:config'; input: ServerConfigInput } | { t: 'enclave:stop' };
type FromWorker =
  { t: 'enclave:hello' } | { t: 'enclave:ready'; url: string } | { t: 'enclave:failed'; message: string };

function messageType(m: unknown): string | undefined {
  const t = typeof m === 'object' && m !== null ? (m as { t?: unknown }).t : undefined;
  return typeof t === 'string' ? t : undefined;
}

/**
 * `enclave server`: one node. With `workers` = 1, the single process of {@link runServer}. Otherwise
 * this process becomes the node's primary: it opens (or initialises) the installation once —
 * migrations, CA, TLS, KEK check, setup code — then forks that many worker processes
 * (node:cluster) that share the HTTPS port, the database and the bus, restarts a worker that dies
 * (with backoff), aggregates their metrics, and stops them gracefully on `close()`. The banner and
 * the ready line are printed once, as {@link runServer} prints them.
 */
export async function runServerNode(
  input: ServerConfigInput,
  print: (line: string) => void = (l) => process.stdout.write(`${l}\n`),
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningServer> {
  const cfg = ServerConfigSchema.parse(input);
  if (cfg.workers === 1) return runServer(input, print, env);
  if (!cluster.isPrimary) throw new Error('a cluster worker cannot start a node of its own');
  return runPrimary(input, cfg, print, env);
}

async function runPrimary(
  input: ServerConfigInput,
  cfg: ServerConfig,
  print: (line: string) => void,
  env: NodeJS.ProcessEnv,
): Promise<RunningServer> {
  const log = primaryLogger(cfg.logLevel);
  // Migrations, CA, TLS certificate and the KEK check happen here, once, before any worker starts.
  const enclave = await openForServing(cfg, env);
  let supervisor: Supervisor | undefined;
  let metricsListener: MetricsListener | undefined;
  try {
    // Fail here, once, rather than in every worker, when the certificate files cannot be read.
    if (cfg.tlsCertFile && cfg.tlsKeyFile) {
      fs.readFileSync(cfg.tlsCertFile);
      fs.readFileSync(cfg.tlsKeyFile);
    }
    // Port 0: the port is chosen here, so that a worker restarted later listens on the same one.
    const port = cfg.listen.port || (await freePort(cfg.listen.host));
    const displayHost = cfg.listen.host.includes(':') ? `[${cfg.listen.host}]` : cfg.listen.host;
    const url = `https://${displayHost}:${port}`;
    const services = buildServices(enclave, {
      publicUrl: cfg.publicUrl ?? url,
      metrics: new Metrics({ defaultMetrics: false }),
    });
    if (enclave.created)
      await services.audit.record({
        actor: SYSTEM,
        action: 'system.initialised',
        details: { organization: enclave.pki.organization, caFingerprint: enclave.pki.caFingerprint },
      });
    const setupCode = await services.setup.issueCodeIfNeeded();

    const workerInput: ServerConfigInput = { ...input, listen: `${displayHost}:${port}`, workers: 1 };
    delete workerInput.metricsListen; // the primary serves the node's metrics, aggregated
    supervisor = new Supervisor(cfg.workers, workerInput, env, log);
    await supervisor.start();

    let metricsUrl: string | undefined;
    if (cfg.metricsListen) {
      const aggregator = new AggregatorRegistry();
      try {
        metricsListener = await startMetricsListener(
          { text: () => aggregator.clusterMetrics(), contentType: aggregator.contentType },
          cfg.metricsListen,
          (err) => log('error', 'metrics scrape failed', { err: (err as Error).message }),
        );
      } catch (err) {
        throw new Error(
          `cannot listen for metrics on ${cfg.metricsListen.host}:${cfg.metricsListen.port}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
          { cause: err },
        );
      }
      const h = metricsListener.host;
      metricsUrl = `http://${h.includes(':') ? `[${h}]` : h}:${metricsListener.port}/metrics`;
    }
    await services.audit.record({
      actor: SYSTEM,
      action: 'system.started',
      details: { version: VERSION, url, workers: cfg.workers },
    });
    printReady(
      print,
      { json: cfg.json, dataDir: cfg.dataDir, url, setupCode, metricsUrl, workers: cfg.workers },
      enclave,
    );
    // The workers hold their own connections; the primary needs the database only to start.
    await enclave.close();

    let closed = false;
    const running: RunningServer = {
      url,
      caFingerprint: enclave.pki.caFingerprint,
      setupCode,
      ...(metricsUrl ? { metricsUrl } : {}),
      async close() {
        if (closed) return;
        closed = true;
        await supervisor?.stop();
        await metricsListener?.close();
      },
    };
    return running;
  } catch (err) {
    await supervisor?.stop();
    await metricsListener?.close();
    await enclave.close().catch(() => undefined);
    throw err;
  }
}

/** Forks the workers, restarts the ones that die, stops them all. */
class Supervisor {
  private running = false;
  private stopping = false;
  private quickDeaths = 0;
  private readonly startedAt = new Map<number, number>();
  /** Workers that reported ready (the others are still loading and hold no connections). */
  private readonly serving = new Set<number>();
  private readonly restarts = new Set<NodeJS.Timeout>();
  private readonly relay = relayBusMessages<Worker>(() => Object.values(cluster.workers ?? {}));
  private readonly onMessage = (worker: Worker, message: unknown) => this.relay(worker, message);
  private readonly onExit = (worker: Worker, code: number | null, signal: string | null) =>
    this.exited(worker, code, signal);

  constructor(
    private readonly count: number,
    private readonly input: ServerConfigInput,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: PrimaryLog,
  ) {}

  /** Forks every worker and resolves once all of them serve; rejects (all stopped) if one cannot start. */
  async start(): Promise<void> {
    cluster.setupPrimary({ exec: WORKER_ENTRY, args: [], silent: false });
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
    const forks = Array.from({ length: this.count }, () => this.fork());
    const results = await Promise.allSettled(forks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    this.running = true;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.running = false;
    for (const t of this.restarts) clearTimeout(t);
    this.restarts.clear();
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.isDead()) return resolve();
            const kill = setTimeout(() => w.process.kill('SIGKILL'), WORKER_STOP_TIMEOUT_MS);
            w.once('exit', () => {
              clearTimeout(kill);
              resolve();
            });
            // One still loading may not listen for messages yet, and holds nothing: kill it.
            if (!this.serving.has(w.id)) w.process.kill('SIGKILL');
            // A disconnected one stops by itself (it lost its primary).
            else if (w.isConnected()) w.send({ t: 'enclave:stop' } satisfies ToWorker, () => undefined);
          }),
      ),
    );
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
  }

  /** Forks one worker; resolves when it serves, rejects if it fails or exits first. */
  private fork(): Promise<Worker> {
    const worker = cluster.fork(this.env);
    this.startedAt.set(worker.id, Date.now());
    return new Promise<Worker>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('exit', onEarlyExit);
        if (err) reject(err);
        else resolve(worker);
      };
      const timer = setTimeout(() => {
        worker.process.kill('SIGKILL');
        done(new Error(`a worker did not start within ${WORKER_START_TIMEOUT_MS / 1000} s`));
      }, WORKER_START_TIMEOUT_MS);
      const onMessage = (m: unknown) => {
        const t = messageType(m);
        // The worker asks once it listens (a message sent earlier, while it loads, would be lost).
        if (t === 'enclave:hello')
          worker.send({ t: 'enclave:config', input: this.input } satisfies ToWorker, () => undefined);
        else if (t === 'enclave:ready') {
          this.serving.add(worker.id);
          this.log('info', 'worker started', { worker: worker.id, workerPid: worker.process.pid });
          done();
        } else if (t === 'enclave:failed') {
          const message = (m as Extract<FromWorker, { t: 'enclave:failed' }>).message;
          done(new Error(typeof message === 'string' ? message : 'a worker failed to start'));
        }
      };
      const onEarlyExit = (code: number | null, signal: string | null) =>
        done(new Error(`a worker exited (${signal ?? `code ${code}`}) before it was serving`));
      worker.on('message', onMessage);
      worker.once('exit', onEarlyExit);
    });
  }

  private exited(worker: Worker, code: number | null, signal: string | null): void {
    const started = this.startedAt.get(worker.id) ?? 0;
    this.startedAt.delete(worker.id);
    this.serving.delete(worker.id);
    if (!this.running || this.stopping) return;
    this.quickDeaths = Date.now() - started < QUICK_DEATH_MS ? this.quickDeaths + 1 : 0;
    const delayMs = Math.min(
      RESTART_BACKOFF_MS.max,
      RESTART_BACKOFF_MS.first * 2 ** Math.min(this.quickDeaths, 10),
    );
    this.log('warn', 'worker exited; restarting it', {
      worker: worker.id,
      workerPid: worker.process.pid,
      ...(signal ? { signal } : { code }),
      restartInMs: delayMs,
    });
    const timer = setTimeout(() => {
      this.restarts.delete(timer);
      if (!this.running) return;
      // A worker that fails to start exits, and `exited` schedules the next try (longer backoff).
      this.fork().catch((err: unknown) =>
        this.log('error', 'worker failed to start', { err: (err as Error).message }),
      );
    }, delayMs);
    this.restarts.add(timer);
  }
}

/**
 * A worker process (run by `worker-main.ts`): receives the node's configuration from the primary,
 * serves with {@link runServer} in its worker role, and exits when the primary asks it to or is
 * gone. SIGINT and SIGTERM are left to the primary (a terminal's Ctrl-C reaches every process of
 * the group; the primary then stops the workers in order).
 */
export async function runClusterWorker(): Promise<void> {
  if (!cluster.isWorker || !process.send) throw new Error('runClusterWorker runs in a cluster worker');
  // Answers the primary's metrics requests from the start (empty until the app is built).
  new AggregatorRegistry();
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  const send = (m: FromWorker, then?: () => void) => {
    if (process.connected) process.send?.(m, undefined, {}, () => then?.());
    else then?.();
  };

  let running: RunningServer | undefined;
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), WORKER_STOP_TIMEOUT_MS - 1000).unref();
    void (running?.close() ?? Promise.resolve()).catch(() => undefined).finally(() => process.exit(0));
  };
  process.on('disconnect', stop);
  // Closing the shared listener tells the primary over IPC; when the primary is already gone that
  // send fails with EPIPE on `process` — expected while stopping, so it must not crash the worker.
  process.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_IPC_CHANNEL_CLOSED') return stop();
    throw err;
  });
  process.on('message', (m: unknown) => {
    if (messageType(m) === 'enclave:stop') stop();
  });

  const input = await new Promise<ServerConfigInput>((resolve) => {
    const onConfig = (m: unknown) => {
      const config = (m as { input?: unknown } | null)?.input;
      if (messageType(m) !== 'enclave:config' || typeof config !== 'object' || config === null) return;
      process.off('message', onConfig);
      resolve(config as ServerConfigInput); // validated by runServer (ServerConfigSchema, strict)
    };
    process.on('message', onConfig);
    send({ t: 'enclave:hello' });
  });

  let log: FastifyBaseLogger | undefined;
  // With NATS, runServer connects each worker to it (it reaches every worker of every node);
  // without, the workers of this node reach each other through the primary.
  const bus = input.natsUrl
    ? undefined
    : new InProcessBus(
        (err, event) => log?.error({ err, event }, 'bus handler failed'),
        new IpcTransport(process, (detail) => log?.warn({ detail }, 'invalid bus event dropped')),
      );
  const id = String(cluster.worker?.id ?? 0);
  try {
    running = await runServer(input, () => undefined, process.env, {
      ...(bus ? { bus } : {}),
      attach: (app, services) => {
        log = app.log;
        AggregatorRegistry.setRegistries([services.metrics.registry]);
        // Which worker answered (its cluster number, not its pid): for operators and tests.
        app.addHook('onSend', (_req, reply, payload, done) => {
          reply.header('x-enclave-worker', id);
          done(null, payload);
        });
        app.websocketServer.on('headers', (headers: string[]) => headers.push(`x-enclave-worker: ${id}`));
      },
    });
  } catch (err) {
    send({ t: 'enclave:failed', message: (err as Error).message }, () => process.exit(1));
    setTimeout(() => process.exit(1), 2000).unref();
    return;
  }
  if (stopping) return void running.close().finally(() => process.exit(0));
  send({ t: 'enclave:ready', url: running.url });
}

/** Picks a free TCP port on `host` (for `--listen HOST:0`). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close(() => resolve(port));
    });
  });
}

type PrimaryLog = (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;

const LEVELS = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** JSON log lines on stderr in the workers' (pino) shape, for the primary's few events. */
function primaryLogger(level: keyof typeof LEVELS): PrimaryLog {
  const min = LEVELS[level];
  const hostname = os.hostname();
  return (lvl, msg, fields = {}) => {
    if (LEVELS[lvl] < min) return;
    process.stderr.write(
      `${JSON.stringify({ level: LEVELS[lvl], time: Date.now(), pid: process.pid, hostname, role: 'primary', ...fields, msg })}\n`,
    );
  };
}
