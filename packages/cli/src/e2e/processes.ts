import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import SQLite from 'better-sqlite3';
import pg from 'pg';

// Shared by the end-to-end suites: the built `enclave` binary, a real server process on a real
// port, and the database it chose — SQLite or PostgreSQL (ENCLAVE_TEST_DB).
export const DB = (process.env.ENCLAVE_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
const PG_ADMIN = process.env.ENCLAVE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/enclave.js');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- each test asserts the fields it needs
}

export function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}: ${r.stderr}`);
  return r;
}

/** `oathtool`, Debian's independent RFC 6238 implementation, at now + `steps` × 30 s. */
export function totp(secret: string, steps = 0): string {
  const at = new Date(Date.now() + steps * 30_000).toISOString().replace('T', ' ').slice(0, 19);
  return execFileSync('oathtool', ['--totp', '-b', '--now', `${at} UTC`, secret], {
    encoding: 'utf8',
  }).trim();
}

export function filesUnder(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

/** One installation under a temp folder: data dir, admin config, server log, its own database. */
export class Installation {
  readonly work = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-e2e-'));
  readonly dataDir = path.join(this.work, 'data');
  readonly configDir = path.join(this.work, 'config');
  readonly serverLog = path.join(this.work, 'server.log');
  readonly passwordFile = path.join(this.work, 'admin-password');
  readonly kek = randomBytes(32).toString('base64url');
  dbUrl: string | undefined;
  url = '';
  private pgName: string | undefined;
  private server: ChildProcess | undefined;

  async create(): Promise<void> {
    fs.writeFileSync(this.passwordFile, 'a long and careful admin passphrase\n');
    if (DB !== 'postgres') return;
    this.pgName = `enclave_e2e_${randomBytes(5).toString('hex')}`;
    await this.pgAdmin(`CREATE DATABASE ${this.pgName}`);
    const u = new URL(PG_ADMIN);
    u.pathname = `/${this.pgName}`;
    this.dbUrl = u.toString();
  }

  async destroy(): Promise<void> {
    await this.stopServer();
    if (this.pgName) await this.pgAdmin(`DROP DATABASE IF EXISTS ${this.pgName} WITH (FORCE)`);
    fs.rmSync(this.work, { recursive: true, force: true });
  }

  private async pgAdmin(statement: string): Promise<void> {
    const c = new pg.Client({ connectionString: PG_ADMIN });
    await c.connect();
    await c.query(statement);
    await c.end();
  }

  get dbFlags(): string[] {
    return this.dbUrl ? ['--db', this.dbUrl] : [];
  }

  /** Runs `enclave ARGS` as a process with this installation's KEK and admin config. */
  enclave(args: string[], env: Record<string, string> = {}): Run {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      encoding: 'utf8',
      env: { ...process.env, ENCLAVE_KEK: this.kek, ENCLAVE_CONFIG: this.configDir, ...env },
      timeout: 120_000,
    });
    let json: unknown;
    try {
      json = JSON.parse(r.stdout);
    } catch {
      json = undefined;
    }
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json };
  }

  /** Like {@link enclave}, but without blocking this process (for commands that wait). */
  /** `enclave init` of this installation, its first Security Administrator using `passwordFile`. */
  init(adminEmail: string, organization: string): Run {
    return ok(
      this.enclave([
        'init',
        '--data',
        this.dataDir,
        ...this.dbFlags,
        '--org',
        organization,
        '--admin-email',
        adminEmail,
        '--admin-password-file',
        this.passwordFile,
        '--json',
      ]),
    );
  }

  /** `enclave login` (no TOTP enrolled yet) with the admin password file. */
  login(server: string, email: string): Run {
    return ok(
      this.enclave([
        'login',
        '--server',
        server,
        '--email',
        email,
        '--password-file',
        this.passwordFile,
        '--json',
      ]),
    );
  }

  /** `enclave device activate` of a new device of `email` into `dir`. */
  activate(server: string, email: string, activationPassword: string, dir: string): Run {
    return ok(
      this.enclave([
        'device',
        'activate',
        '--server',
        server,
        '--email',
        email,
        '--activation-password',
        activationPassword,
        '--dir',
        dir,
        '--json',
      ]),
    );
  }

  enclaveAsync(args: string[], env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, ENCLAVE_KEK: this.kek, ENCLAVE_CONFIG: this.configDir, ...env },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => {
        let json: unknown;
        try {
          json = JSON.parse(stdout);
        } catch {
          json = undefined;
        }
        resolve({ code: code ?? -1, stdout, stderr, json });
      });
    });
  }

  /** Starts `enclave server` and resolves with its URL once the ready line is printed. */
  async startServer(
    env: Record<string, string> = {},
    extraArgs: string[] = [],
  ): Promise<{ url: string; ms: number; setupCode: string | null }> {
    const t0 = Date.now();
    const out = fs.openSync(this.serverLog, 'a');
    // A restart keeps the port: devices remember the server URL they were activated with.
    const listen = this.url ? `127.0.0.1:${new URL(this.url).port}` : '127.0.0.1:0';
    const args = [
      BIN,
      'server',
      '--data',
      this.dataDir,
      '--listen',
      listen,
      '--json',
      ...this.dbFlags,
      ...extraArgs,
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ENCLAVE_KEK: this.kek, ...env },
      stdio: ['ignore', 'pipe', out],
    });
    this.server = child;
    const ready = await new Promise<{ url: string; setupCode: string | null }>((resolve, reject) => {
      let buf = '';
      const timer = setTimeout(() => reject(new Error(`server not ready in 30 s: ${buf}`)), 30_000);
      child.stdout?.on('data', (d: Buffer) => {
        fs.appendFileSync(this.serverLog, d);
        buf += d.toString();
        const line = buf.split('\n').find((l) => l.includes('"event":"ready"'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line) as { url: string; setupCode: string | null });
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code}: ${buf}`));
      });
    });
    this.url = ready.url;
    return { ...ready, ms: Date.now() - t0 };
  }

  /** Stops the server: SIGTERM (graceful) by default, SIGKILL to simulate a crash. */
  async stopServer(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.server;
    this.server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  /** Runs SQL through a separate database client, the way a person with database access would. */
  async sql(statement: string): Promise<void> {
    if (DB === 'postgres') {
      const c = new pg.Client({ connectionString: this.dbUrl });
      await c.connect();
      await c.query(statement);
      await c.end();
    } else {
      const db = new SQLite(path.join(this.dataDir, 'enclave.db'));
      db.exec(statement);
      db.close();
    }
  }

  /** Everything a person with a database client could read, as text. */
  async databaseText(): Promise<string> {
    if (DB === 'postgres') {
      const c = new pg.Client({ connectionString: this.dbUrl });
      await c.connect();
      const tables = (
        await c.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public'")
      ).rows;
      const parts = [];
      for (const { tablename } of tables)
        parts.push(JSON.stringify((await c.query(`select * from "${tablename}"`)).rows));
      await c.end();
      return parts.join('\n');
    }
    const db = new SQLite(path.join(this.dataDir, 'enclave.db'), { readonly: true });
    const tables = db.prepare("select name from sqlite_master where type = 'table'").all() as {
      name: string;
    }[];
    const text = tables
      .map(({ name }) => JSON.stringify(db.prepare(`select * from "${name}"`).all()))
      .join('\n');
    db.close();
    return text;
  }
}
