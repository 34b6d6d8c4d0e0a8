import type { Command } from 'commander';
import { resolve } from 'node:path';
import { z, ZodError } from 'zod';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { CliError } from '../lib/cli-error.js';
import type { CliContext } from '../lib/context.js';
import { CommonFlags, readSecretFile } from '../lib/flags.js';
import { fields } from '../lib/output.js';

// The server package is loaded at run time through a computed specifier and typed by these local
// interfaces, so the CLI builds (and its client commands work) even when the server is not built.
// They mirror packages/server/src/{init,server}.ts as of this writing.
// TODO(server): once @enclave/server's exports are stable, replace these with
// `import type { initEnclave, runServer } from '@enclave/server'` (Parameters<>/ReturnType<>)
// and drop `isServerModule`.
/** Options of the server package's `initEnclave`. */
export interface InitEnclaveOptions {
  dataDir: string;
  dbUrl?: string;
  organization: string;
  adminEmail: string;
  adminPassword: string;
}
/** Options of the server package's `runServer` (validated there by `ServerConfigSchema`, strict). */
export interface RunServerOptions {
  dataDir: string;
  dbUrl?: string;
  natsUrl?: string;
  listen?: string;
  metricsListen?: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  publicUrl?: string;
  deviceLimit?: number;
  attachmentLimitMb?: number;
  approvalThreshold?: number;
  approvalDelaySeconds?: number;
  wipeLimitPerHour?: number;
  logLevel?: string;
  organization?: string;
  /** Worker processes (1 = a single process, no cluster); default one per core. */
  workers?: number;
  json: boolean;
}
/** A running server. */
export interface RunningServer {
  url: string;
  caFingerprint: string;
  close(): Promise<void>;
}
/** The part of `@enclave/server` the CLI calls. */
export interface ServerModule {
  initEnclave(
    opts: InitEnclaveOptions,
  ): Promise<{ caFingerprint: string; dataDir: string; admin?: { id: string; email: string; role: string } }>;
  /** Prints its banner and the ready line (one JSON document with `json`) through `print`. */
  runServer(opts: RunServerOptions, print: (line: string) => void): Promise<RunningServer>;
  /** Like `runServer`, with `workers` processes (absent in old builds, which run one process). */
  runServerNode?: (opts: RunServerOptions, print: (line: string) => void) => Promise<RunningServer>;
  /** Online backup of a single-node (SQLite) installation into one archive file (absent in old builds). */
  backupEnclave?: (opts: {
    dataDir: string;
    out: string;
    dbUrl?: string;
    log?: (line: string) => void;
  }) => Promise<{ out: string; bytes: number; entries: number; caFingerprint: string; organization: string }>;
  /** Restores an archive into an empty data directory and checks that the KEK opens it. */
  restoreEnclave?: (opts: {
    dataDir: string;
    from: string;
    kekFile?: string;
    log?: (line: string) => void;
  }) => Promise<{ dataDir: string; caFingerprint: string; organization: string; entries: number }>;
}

/** Server option keys → the flags that set them, so the server's validation errors name the flag. */
const SERVER_FLAG_NAMES: Record<string, string> = {
  dataDir: '--data',
  dbUrl: '--db',
  natsUrl: '--nats',
  listen: '--listen',
  metricsListen: '--metrics-listen',
  tlsCertFile: '--tls-cert',
  tlsKeyFile: '--tls-key',
  publicUrl: '--public-url',
  deviceLimit: '--device-limit',
  attachmentLimitMb: '--attachment-limit-mb',
  approvalThreshold: '--approval-threshold',
  approvalDelaySeconds: '--approval-delay',
  wipeLimitPerHour: '--wipe-limit',
  logLevel: '--log-level',
  organization: '--org',
  workers: '--workers',
  adminEmail: '--admin-email',
  adminPassword: '--admin-password-file',
};

/** Gives errors thrown by the server package a stable code and, for bad options, the flag's name. */
export function serverError(err: unknown): unknown {
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const key = issue?.path[0];
    const flag = typeof key === 'string' ? (SERVER_FLAG_NAMES[key] ?? key) : 'option';
    return new CliError('usage_error', `${flag}: ${issue?.message ?? 'invalid'}`);
  }
  if (err instanceof Error) {
    if (err.name === 'KekError') return new CliError('kek_invalid', err.message);
    if (err.name === 'InitError') return new CliError('already_initialised', err.message);
    if (err.name === 'BackupError') return new CliError('backup_failed', err.message);
    if (!(err instanceof CliError)) return new CliError('server_failed', err.message);
  }
  return err;
}

const InitResultSchema = z.object({
  caFingerprint: z.string(),
  dataDir: z.string(),
  admin: z.object({ id: z.string(), email: z.string(), role: z.string() }).optional(),
});

function isServerModule(mod: unknown): mod is ServerModule {
  const m = mod as Partial<Record<keyof ServerModule, unknown>> | null;
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof m.initEnclave === 'function' &&
    typeof m.runServer === 'function'
  );
}

/** Loads `@enclave/server`, with an actionable error when it is missing or not built. */
export async function loadServer(ctx: CliContext): Promise<ServerModule> {
  let mod: unknown;
  try {
    mod = await ctx.loadServerModule();
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CliError(
      'server_unavailable',
      `cannot load @enclave/server (${code ?? (err as Error).message}) — build it with \`npm run build\` in the repository`,
    );
  }
  if (!isServerModule(mod))
    throw new CliError(
      'server_unavailable',
      '@enclave/server does not export initEnclave and runServer — rebuild it with `npm run build`',
    );
  return mod;
}

const ListenFlag = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'use HOST:PORT, e.g. 0.0.0.0:8443 or [::]:8443')
  .refine((v) => Number(v.slice(v.lastIndexOf(':') + 1)) <= 65_535, 'the port must be at most 65535');

const InitFlags = z.object({
  ...CommonFlags,
  data: z.string().min(1),
  db: z.string().min(1).optional(),
  org: z.string().trim().min(1).max(200),
  adminEmail: z.string().min(1),
  adminPasswordFile: z.string().min(1),
});
const ServeFlags = z
  .object({
    ...CommonFlags,
    data: z.string().min(1),
    listen: ListenFlag.optional(),
    metricsListen: ListenFlag.optional(),
    db: z.string().min(1).optional(),
    nats: z.string().min(1).optional(),
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    publicUrl: z.string().min(1).optional(),
    deviceLimit: z.coerce.number().int().min(1).max(100).optional(),
    attachmentLimitMb: z.coerce.number().int().min(1).max(10_000).optional(),
    approvalThreshold: z.coerce.number().int().min(1).max(100_000).optional(),
    approvalDelay: z.coerce.number().int().min(0).max(86_400).optional(),
    wipeLimit: z.coerce.number().int().min(1).max(100_000).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
    org: z.string().trim().min(1).max(100).optional(),
    workers: z.coerce.number().int().min(1).max(64).optional(),
  })
  .refine((o) => (o.tlsCert === undefined) === (o.tlsKey === undefined), {
    message: '--tls-cert and --tls-key go together',
    path: ['tlsCert'],
  });

const BackupFlags = z.object({
  ...CommonFlags,
  data: z.string().min(1),
  out: z.string().min(1),
  db: z.string().min(1).optional(),
});
const RestoreFlags = z.object({
  ...CommonFlags,
  data: z.string().min(1),
  from: z.string().min(1),
  kekFile: z.string().min(1).optional(),
});

/** The server module's backup functions, with an actionable error when the build predates them. */
function backupFunctions(server: ServerModule) {
  const { backupEnclave, restoreEnclave } = server;
  if (!backupEnclave || !restoreEnclave)
    throw new CliError(
      'server_unavailable',
      '@enclave/server does not export backupEnclave — rebuild it with `npm run build`',
    );
  return { backupEnclave, restoreEnclave };
}

/** `enclave backup` and `enclave restore` — single-node (SQLite) installations. */
function registerBackupCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  withCommonOptions(
    program
      .command('backup')
      .description('write a consistent backup of a (running) single-node installation to one file')
      .requiredOption('--data <dir>', 'data directory')
      .requiredOption('--out <file>', 'archive to write (mode 0600; the KEK is not included)')
      .option('--db <url>', 'database URL (postgres:// installations are refused: use pg_dump)'),
  ).action(
    action(env, BackupFlags, async (o) => {
      const { backupEnclave } = backupFunctions(await loadServer(ctx));
      const r = await backupEnclave({
        dataDir: resolve(o.data),
        out: resolve(o.out),
        ...(o.db ? { dbUrl: o.db } : {}),
        log: (line) => ctx.stderr(`${line}\n`),
      }).catch((err: unknown) => {
        throw serverError(err);
      });
      const data = { out: r.out, bytes: r.bytes, entries: r.entries, caFingerprint: r.caFingerprint };
      return {
        data,
        text: fields([
          ['backup', data.out],
          ['bytes', String(data.bytes)],
          ['entries', String(data.entries)],
          ['CA fingerprint', data.caFingerprint],
        ]),
      };
    }),
  );
  withCommonOptions(
    program
      .command('restore')
      .description('restore a backup into an empty data directory (needs the KEK: ENCLAVE_KEK or --kek-file)')
      .requiredOption('--data <dir>', 'new or empty data directory')
      .requiredOption('--from <file>', 'archive written by `enclave backup`')
      .option('--kek-file <file>', "the original installation's key file (copied to DATA/kek)"),
  ).action(
    action(env, RestoreFlags, async (o) => {
      const { restoreEnclave } = backupFunctions(await loadServer(ctx));
      const r = await restoreEnclave({
        dataDir: resolve(o.data),
        from: resolve(o.from),
        ...(o.kekFile ? { kekFile: resolve(o.kekFile) } : {}),
        log: (line) => ctx.stderr(`${line}\n`),
      }).catch((err: unknown) => {
        throw serverError(err);
      });
      const data = { dataDir: r.dataDir, caFingerprint: r.caFingerprint };
      return {
        data,
        text: fields([
          ['data directory', data.dataDir],
          ['CA fingerprint', data.caFingerprint],
        ]),
      };
    }),
  );
}

/** `enclave init` and `enclave server` — run on the server machine, not over the API. */
export function registerServerCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  registerBackupCommands(program, env);

  withCommonOptions(
    program
      .command('init')
      .description('create the enterprise PKI, the database and the first Security Administrator')
      .requiredOption('--data <dir>', 'data directory (keys, SQLite database)')
      .option('--db <url>', 'database URL (default: SQLite in the data directory)')
      .requiredOption('--org <name>', 'organisation name (appears in the CA certificates)')
      .requiredOption('--admin-email <email>', 'email of the first Security Administrator')
      .requiredOption('--admin-password-file <file>', 'file whose first line is their password'),
  ).action(
    action(env, InitFlags, async (o) => {
      const adminPassword = await readSecretFile(o.adminPasswordFile, '--admin-password-file');
      const server = await loadServer(ctx);
      const result = InitResultSchema.parse(
        await server
          .initEnclave({
            dataDir: resolve(o.data),
            organization: o.org,
            adminEmail: o.adminEmail,
            adminPassword,
            ...(o.db ? { dbUrl: o.db } : {}),
          })
          .catch((err: unknown) => {
            throw serverError(err);
          }),
      );
      const data = {
        caFingerprint: result.caFingerprint,
        dataDir: result.dataDir,
        organization: o.org,
        adminEmail: result.admin?.email ?? o.adminEmail,
        ...(result.admin ? { admin: result.admin } : {}),
      };
      return {
        data,
        text: `${fields([
          ['data directory', data.dataDir],
          ['organisation', data.organization],
          ['first admin', data.adminEmail],
          ['CA fingerprint', data.caFingerprint],
        ])}\n\nGive administrators the fingerprint: enclave login --server URL --email E --password-file F --ca-fingerprint ${data.caFingerprint}`,
      };
    }),
  );

  withCommonOptions(
    program
      .command('server')
      .description('run the server (initialises on first start if needed)')
      .requiredOption('--data <dir>', 'data directory')
      .option('--listen <host:port>', 'address to listen on, e.g. 0.0.0.0:8443')
      .option(
        '--metrics-listen <host:port>',
        'serve Prometheus /metrics over plain HTTP here, e.g. 127.0.0.1:9464 (off by default; keep on loopback or firewalled)',
      )
      .option('--db <url>', 'database URL (postgres://… for a cluster)')
      .option('--nats <url>', 'NATS URL (for a cluster)')
      .option('--tls-cert <file>', 'TLS certificate chain (PEM) instead of the one the enterprise CA issues')
      .option('--tls-key <file>', 'its private key (PEM)')
      .option('--public-url <url>', 'the https:// URL devices use (put in activation QR codes)')
      .option(
        '--device-limit <n>',
        'active devices per user until an administrator saves one in the settings (default 5)',
      )
      .option('--attachment-limit-mb <n>', 'largest attachment in MB (default 100)')
      .option('--approval-threshold <n>', 'commands for more devices need a second admin (default 10)')
      .option('--approval-delay <seconds>', 'cancellable delay before an approved action runs (default 60)')
      .option('--wipe-limit <n>', 'devices one administrator may wipe per hour (default 20)')
      .option('--org <name>', 'organisation name, used when this start creates the installation')
      .option(
        '--workers <n>',
        'worker processes sharing the port, database and bus, 1–64 (default: one per CPU core; 1 = single process)',
      )
      .option(
        '--log-level <level>',
        'fatal|error|warn|info|debug|trace|silent (default info; logs go to stderr as JSON)',
      ),
  ).action(
    action(env, ServeFlags, async (o) => {
      const loaded = await loadServer(ctx);
      // A node of several worker processes (`--workers`); builds from before run one process.
      const server = {
        runServer: (opts: RunServerOptions, print: (line: string) => void) =>
          loaded.runServerNode ? loaded.runServerNode(opts, print) : loaded.runServer(opts, print),
      };
      // The server prints its banner and ready line (`{"event":"ready",url,caFingerprint,…}` with --json).
      const running = await server
        .runServer(
          {
            dataDir: resolve(o.data),
            json: Boolean(o.json),
            ...(o.db ? { dbUrl: o.db } : {}),
            ...(o.nats ? { natsUrl: o.nats } : {}),
            ...(o.listen ? { listen: o.listen } : {}),
            ...(o.metricsListen ? { metricsListen: o.metricsListen } : {}),
            ...(o.tlsCert ? { tlsCertFile: resolve(o.tlsCert) } : {}),
            ...(o.tlsKey ? { tlsKeyFile: resolve(o.tlsKey) } : {}),
            ...(o.publicUrl ? { publicUrl: o.publicUrl } : {}),
            ...(o.deviceLimit ? { deviceLimit: o.deviceLimit } : {}),
            ...(o.attachmentLimitMb ? { attachmentLimitMb: o.attachmentLimitMb } : {}),
            ...(o.approvalThreshold ? { approvalThreshold: o.approvalThreshold } : {}),
            ...(o.approvalDelay !== undefined ? { approvalDelaySeconds: o.approvalDelay } : {}),
            ...(o.wipeLimit ? { wipeLimitPerHour: o.wipeLimit } : {}),
            ...(o.logLevel ? { logLevel: o.logLevel } : {}),
            ...(o.org ? { organization: o.org } : {}),
            ...(o.workers ? { workers: o.workers } : {}),
          },
          (line) => ctx.stdout(`${line}\n`),
        )
        .catch((err: unknown) => {
          throw serverError(err);
        });
      const signal = await ctx.waitForShutdown();
      if (!o.json) ctx.stderr(`${signal}: shutting down\n`);
      await running.close();
      return undefined;
    }),
  );
}
