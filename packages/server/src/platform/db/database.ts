import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type DbKind = 'sqlite' | 'postgres';

export interface DbHandle {
  db: Db;
  kind: DbKind;
  /** Human description without credentials, for logs. */
  description: string;
  close(): Promise<void>;
}

// PostgreSQL BIGINT comes back as a string by default; our bigints (audit seq, TOTP step) fit in 2^53.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

/** Where the embedded SQLite database of a data directory lives. */
export function sqlitePath(dataDir: string): string {
  return path.join(dataDir, 'enclave.db');
}

/** Opens the database: `postgres://…` for PostgreSQL, otherwise the data directory's SQLite file (WAL). */
export function openDatabase(opts: {
  dataDir: string;
  dbUrl?: string | undefined;
  readonly?: boolean;
}): DbHandle {
  if (opts.dbUrl && /^postgres(ql)?:\/\//.test(opts.dbUrl)) {
    const pool = new pg.Pool({
      connectionString: opts.dbUrl,
      max: 10,
      // PostgreSQL away: a request fails within seconds (503 database_unavailable) instead of
      // hanging; the pool drops broken connections and reconnects by itself when it returns.
      connectionTimeoutMillis: 3_000,
      // TCP keepalive: a connection to a PostgreSQL that vanished without a word is noticed.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    // A broken idle connection must not crash the process; the next query reports it.
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const u = new URL(opts.dbUrl);
    return {
      db,
      kind: 'postgres',
      description: `postgres://${u.host}${u.pathname}`,
      close: () => db.destroy(),
    };
  }
  const file = opts.dbUrl?.startsWith('sqlite:')
    ? opts.dbUrl.slice('sqlite:'.length)
    : sqlitePath(opts.dataDir);
  if (!opts.readonly) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const sqlite = new SQLite(file, {
    readonly: opts.readonly ?? false,
    fileMustExist: opts.readonly ?? false,
  });
  // Several worker processes share the file: wait for another's write lock instead of failing.
  sqlite.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    // Owner-only before WAL mode starts: SQLite gives the -wal and -shm files the database's mode.
    fs.chmodSync(file, 0o600);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  const db = new Kysely<Database>({
    dialect: new SqliteDialect({ database: withStatementCache(sqlite, !opts.readonly) }),
  });
  return { db, kind: 'sqlite', description: `sqlite:${file}`, close: () => db.destroy() };
}

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, recovering)
  '53300', // too_many_connections
  'SQLITE_BUSY', // locked beyond busy_timeout
]);
const UNREACHABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error',
];

/**
 * True when `err` says the database cannot be reached now (down, restarting, unreachable, out of
 * connections) — the caller answers 503 `database_unavailable` — rather than a fault in a query.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.code === 'string' && (UNREACHABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  if (typeof e.message === 'string' && UNREACHABLE_MESSAGES.some((m) => (e.message as string).includes(m)))
    return true;
  if (Array.isArray(e.errors) && e.errors.some(isDatabaseUnavailable)) return true; // AggregateError
  return e.cause !== undefined && e.cause !== err && isDatabaseUnavailable(e.cause);
}

/** True when `err` is a unique-constraint violation on either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string } | null;
  return (
    e?.code === '23505' ||
    e?.code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    e?.code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
  );
}

/**
 * Kysely prepares every query anew; on the hot paths that is a third of SQLite's time. Statements
 * are cached by SQL text (the SQL is built by Kysely, values are always bound parameters) and reused
 * — safe because better-sqlite3 runs each statement to completion synchronously.
 *
 * Kysely opens transactions with a plain (deferred) `begin`. With several processes on one WAL
 * database, a deferred transaction that reads and then writes fails at once with SQLITE_BUSY
 * (busy_timeout cannot help: its snapshot is stale) when another process wrote meanwhile; so every
 * transaction takes the write lock up front with `begin immediate`, which does wait busy_timeout.
 */
function withStatementCache(db: SQLite.Database, writable: boolean): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (sqlText: string): SQLite.Statement => {
    const source = writable && sqlText === 'begin' ? 'begin immediate' : sqlText;
    let stmt = cache.get(source);
    if (!stmt) {
      stmt = db.prepare(source);
      if (cache.size >= 1000) cache.delete(cache.keys().next().value as string); // oldest first
      cache.set(source, stmt);
    }
    return stmt;
  };
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'prepare') return prepare;
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
