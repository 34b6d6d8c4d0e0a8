import { homedir } from 'node:os';
import { httpsTransport, type HttpsTransportOptions, type Transport } from '@enclave/client';

/** Everything a command touches outside its arguments — replaced wholesale in tests. */
export interface CliContext {
  /** Writes to stdout as-is. */
  stdout(text: string): void;
  /** Writes to stderr as-is. */
  stderr(text: string): void;
  env: Readonly<Record<string, string | undefined>>;
  homeDir: string;
  /** Builds the HTTPS transport to a server (pinned with `ca`, or `insecure` for bootstrap steps). */
  transport(opts: HttpsTransportOptions): Transport;
  now(): Date;
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM), with the signal name. */
  waitForShutdown(): Promise<string>;
  /** Loads `@enclave/server` (only the server commands need it). */
  loadServerModule(): Promise<unknown>;
  /** Whether stdout is a terminal (QR codes are drawn only there). */
  isTty: boolean;
}

/** The real process: stdio, environment, HTTPS, signals. */
export function processContext(): CliContext {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    env: process.env,
    homeDir: homedir(),
    transport: httpsTransport,
    now: () => new Date(),
    waitForShutdown: () =>
      new Promise((resolve) => {
        const stop = (signal: string) => resolve(signal);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      }),
    // A computed specifier keeps the CLI compiling while the server package is still being built.
    // TODO(server): once @enclave/server exports initEnclave/runServer, switch to a typed
    // `import type { initEnclave, runServer } from '@enclave/server'` and drop the runtime checks.
    loadServerModule: () => {
      const specifier: string = '@enclave/server';
      return import(specifier) as Promise<unknown>;
    },
    isTty: Boolean(process.stdout.isTTY),
  };
}
