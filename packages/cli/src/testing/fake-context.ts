// Test-only: a CliContext that records output and routes HTTP to in-memory handlers.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HttpsTransportOptions, Transport } from '@enclave/client';
import { createFakeServer, type FakeServer } from '@enclave/client/testing';
import { saveSession } from '../lib/session-store.js';
import type { CliContext } from '../lib/context.js';
import { run } from '../program.js';

/** A recorded CLI run. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as one JSON document (throws if it is not exactly one). */
  json(): Record<string, unknown>;
}

/** Options of {@link fakeContext}. */
export interface FakeContextOptions {
  env?: Record<string, string | undefined>;
  homeDir?: string;
  /** Builds the transport the CLI gets for `opts` (records every call in `transports`). */
  transport?: (opts: HttpsTransportOptions) => Transport;
  loadServerModule?: () => Promise<unknown>;
  /** Resolves the server command's wait for a signal. */
  shutdown?: Promise<string>;
}

/** A context plus the transports the CLI asked for. */
export interface FakeContext {
  ctx: CliContext;
  transports: HttpsTransportOptions[];
  out: { stdout: string; stderr: string };
}

/** Builds a fake context. */
export function fakeContext(opts: FakeContextOptions = {}): FakeContext {
  const out = { stdout: '', stderr: '' };
  const transports: HttpsTransportOptions[] = [];
  const ctx: CliContext = {
    stdout: (t) => void (out.stdout += t),
    stderr: (t) => void (out.stderr += t),
    env: opts.env ?? {},
    homeDir: opts.homeDir ?? '/nonexistent-home',
    transport: (o) => {
      transports.push(o);
      if (!opts.transport) throw new Error('no transport in this test');
      return opts.transport(o);
    },
    now: () => new Date('2025-06-01T12:00:00.000Z'),
    waitForShutdown: () => opts.shutdown ?? Promise.resolve('SIGTERM'),
    loadServerModule:
      opts.loadServerModule ??
      (() => Promise.reject(Object.assign(new Error('not found'), { code: 'ERR_MODULE_NOT_FOUND' }))),
    isTty: false,
  };
  return { ctx, transports, out };
}

/** Runs `enclave <args…>` in `fake` and returns what it printed. */
export async function runCli(fake: FakeContext, ...args: string[]): Promise<RunResult> {
  fake.out.stdout = '';
  fake.out.stderr = '';
  const code = await run(['node', 'enclave', ...args], fake.ctx);
  const { stdout, stderr } = fake.out;
  return {
    code,
    stdout,
    stderr,
    json: () => {
      const lines = stdout.trim().split('\n');
      if (lines.length !== 1)
        throw new Error(`expected one JSON line on stdout, got ${lines.length}: ${stdout}`);
      return JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    },
  };
}

/** A transport answering from a route table `METHOD /path` → [status, body]; records requests. */
export function routeTransport(
  routes: Record<string, (body: unknown, headers: Record<string, string>) => [number, unknown]>,
): Transport & { seen: { method: string; path: string; headers: Record<string, string> }[] } {
  const seen: { method: string; path: string; headers: Record<string, string> }[] = [];
  const t = ((req) => {
    seen.push({ method: req.method, path: req.path, headers: req.headers ?? {} });
    const handler = routes[`${req.method} ${req.path.split('?')[0] ?? ''}`];
    const [status, body] = handler
      ? handler(req.body, req.headers ?? {})
      : [404, { error: { code: 'not_found', message: `no route ${req.path}` } }];
    return Promise.resolve({ status, headers: {}, text: JSON.stringify(body) });
  }) as Transport & { seen: typeof seen };
  t.seen = seen;
  return t;
}

/**
 * A temp folder holding a saved Security Administrator session pinned to a fake server's CA, for
 * commands that only need to be signed in (their requests go to a `routeTransport`).
 */
export async function signedInSession(
  prefix: string,
  expiresAt: string,
): Promise<{ tmp: string; config: string; fake: FakeServer }> {
  const tmp = await mkdtemp(join(tmpdir(), prefix));
  const fake = await createFakeServer({ email: 'alice@example.com', passwords: ['ABCD-EFGH-JKLM'] });
  const config = join(tmp, 'session');
  await saveSession(config, {
    server: 'https://enclave.test:8443',
    token: 'tok-secret',
    caPem: [fake.issuing.certificate.toString('pem'), fake.root.certificate.toString('pem')].join('\n'),
    caFingerprint: fake.caFingerprint,
    email: 'sec@example.com',
    role: 'security-admin',
    expiresAt,
  });
  return { tmp, config, fake };
}
