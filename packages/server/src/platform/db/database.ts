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
    const pool = new pg.Pool({ connectionString: opts.dbUrl, max: 10, connectionTimeoutMillis: 5000 });
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
  if (!opts.readonly) {
    // Owner-only before WAL mode starts: SQLite gives the -wal and -shm files the database's mode.
    fs.chmodSync(file, 0o600);
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    sqlite.pragma('foreign_keys = ON');
  }
  sqlite.pragma('busy_timeout = 5000');
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  return { db, kind: 'sqlite', description: `sqlite:${file}`, close: () => db.destroy() };
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
 */
function withStatementCache(db: SQLite.Database): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = (source: string): SQLite.Statement => {
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
