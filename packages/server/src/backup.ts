import fs from 'node:fs';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import SQLite from 'better-sqlite3';
import { openEnclave } from './bootstrap.js';
import { sqlitePath } from './platform/db/database.js';
import { kekFilePath } from './platform/keystore/kek.js';

/**
 * Backup archive of a single-node (SQLite) installation. Layout:
 *
 *   MAGIC (8 bytes "ENCLBK01") · header length (uint32 BE) · header (UTF-8 JSON) ·
 *   SHA-256 of the header (32 bytes) · the entries' bytes, back to back, in header order.
 *
 * The database is an online snapshot (SQLite backup API), consistent while the server writes.
 * Private keys are inside it, sealed under the KEK; the KEK itself is never part of a backup.
 */
const MAGIC = Buffer.from('ENCLBK01', 'ascii');
export const BACKUP_FORMAT = 1;
const DB_ENTRY = 'enclave.db';
const ATTACHMENTS = 'attachments';
const CHUNK = 1 << 20;
/** Backups above this size report progress. */
const PROGRESS_BYTES = 64 * 1024 * 1024;

export class BackupError extends Error {
  override name = 'BackupError';
}

export interface BackupEntry {
  name: string;
  size: number;
  sha256: string;
}

export interface BackupHeader {
  format: number;
  createdAt: string;
  organization: string;
  caFingerprint: string;
  entries: BackupEntry[];
}

export interface BackupOptions {
  dataDir: string;
  out: string;
  /** Refused when it is a PostgreSQL URL (use pg_dump). */
  dbUrl?: string | undefined;
  /** Warnings and progress lines (the CLI sends them to stderr). */
  log?: (line: string) => void;
}

export interface BackupResult {
  out: string;
  bytes: number;
  entries: number;
  caFingerprint: string;
  organization: string;
}

function sha256File(file: string): { size: number; sha256: string } {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let size = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { size, sha256: hash.digest('hex') };
}

/** Regular files under `dir`, as paths relative to it with `/` separators, sorted. */
function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    let items: fs.Dirent[];
    try {
      items = fs.readdirSync(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const d of items) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(r);
      else if (d.isFile() && !d.name.includes('.partial')) out.push(r);
    }
  };
  walk('');
  return out.sort();
}

function progressReporter(total: number, log?: (line: string) => void) {
  let done = 0;
  let lastPct = -1;
  return (n: number) => {
    done += n;
    if (!log || total < PROGRESS_BYTES) return;
    const pct = Math.floor((done / total) * 10) * 10;
    if (pct > lastPct) {
      lastPct = pct;
      log(`backup: ${pct}% (${(done / 1048576).toFixed(0)} of ${(total / 1048576).toFixed(0)} MiB)`);
    }
  };
}

/** Writes a consistent backup archive of a running or stopped single-node installation. */
export async function backupEnclave(opts: BackupOptions): Promise<BackupResult> {
  if (opts.dbUrl && /^postgres(ql)?:\/\//.test(opts.dbUrl))
    throw new BackupError(
      'backup covers the single-node SQLite installation: for PostgreSQL use pg_dump (and keep the KEK separately)',
    );
  const dataDir = path.resolve(opts.dataDir);
  const dbFile = opts.dbUrl?.startsWith('sqlite:') ? opts.dbUrl.slice(7) : sqlitePath(dataDir);
  if (!fs.existsSync(dbFile)) throw new BackupError(`no Enclave database at ${dbFile}`);
  const out = path.resolve(opts.out);
  if (out === dataDir || out.startsWith(`${dataDir}${path.sep}`))
    throw new BackupError('--out must be outside the data directory');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const work = fs.mkdtempSync(path.join(path.dirname(out), '.enclave-backup-'));
  const partial = `${out}.partial-${randomBytes(4).toString('hex')}`;
  try {
    // 1. Online snapshot with SQLite's backup API: one consistent state of the database.
    const snapshot = path.join(work, DB_ENTRY);
    const src = new SQLite(dbFile, { fileMustExist: true });
    try {
      src.pragma('busy_timeout = 5000');
      // All remaining pages in one step, inside one read transaction: copying in small steps would
      // restart on every write the running server makes and might never finish. (WAL: the server's
      // writers are not blocked meanwhile.)
      await src.backup(snapshot, { progress: () => 0x7fffffff });
    } finally {
      src.close();
    }
    // A self-contained file (no -wal) and the facts for the header.
    let organization: string;
    let caFingerprint: string;
    {
      const snap = new SQLite(snapshot, { fileMustExist: true });
      try {
        snap.pragma('journal_mode = DELETE');
        const get = (key: string) =>
          (snap.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
            ?.value;
        const org = get('organization');
        const fp = get('ca_fingerprint');
        if (org === undefined || fp === undefined)
          throw new BackupError(`${dbFile} is not an initialised Enclave installation`);
        organization = org;
        caFingerprint = fp;
      } catch (err) {
        if (err instanceof BackupError) throw err;
        throw new BackupError(`${dbFile} is not an Enclave database (${(err as Error).message})`);
      } finally {
        snap.close();
      }
    }
    fs.chmodSync(snapshot, 0o600);

    // 2. Attachments, listed after the snapshot so every attachment it references is included
    //    (ciphertext files are written before their row and never modified).
    const attachDir = path.join(dataDir, ATTACHMENTS);
    const sources: { name: string; file: string }[] = [{ name: DB_ENTRY, file: snapshot }];
    for (const rel of listFiles(attachDir))
      sources.push({ name: `${ATTACHMENTS}/${rel}`, file: path.join(attachDir, rel) });
    const entries: (BackupEntry & { file: string })[] = [];
    for (const s of sources) {
      try {
        entries.push({ ...s, ...sha256File(s.file) });
      } catch (err) {
        // Deleted between listing and reading (expired attachment): not part of this backup.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const header: BackupHeader = {
      format: BACKUP_FORMAT,
      createdAt: new Date().toISOString(),
      organization,
      caFingerprint,
      entries: entries.map(({ name, size, sha256 }) => ({ name, size, sha256 })),
    };
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(headerBytes.length);

    // 3. The archive, owner-only, renamed into place when complete.
    const total = entries.reduce((a, e) => a + e.size, 0);
    const progress = progressReporter(total, opts.log);
    const fd = fs.openSync(partial, 'wx', 0o600);
    let bytes = 0;
    try {
      const write = (b: Buffer) => {
        let off = 0;
        while (off < b.length) off += fs.writeSync(fd, b, off, b.length - off);
        bytes += b.length;
      };
      write(MAGIC);
      write(len);
      write(headerBytes);
      write(createHash('sha256').update(headerBytes).digest());
      const buf = Buffer.allocUnsafe(CHUNK);
      for (const e of entries) {
        const hash = createHash('sha256');
        const src = fs.openSync(e.file, 'r');
        let copied = 0;
        try {
          while (copied < e.size) {
            const n = fs.readSync(src, buf, 0, Math.min(CHUNK, e.size - copied), null);
            if (n === 0) break;
            hash.update(buf.subarray(0, n));
            write(buf.subarray(0, n));
            copied += n;
            progress(n);
          }
        } finally {
          fs.closeSync(src);
        }
        if (copied !== e.size || hash.digest('hex') !== e.sha256)
          throw new BackupError(`${e.name} changed while it was being backed up: run the backup again`);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(partial, out);
    fs.chmodSync(out, 0o600);
    if (fs.existsSync(kekFilePath(dataDir)) || !process.env.ENCLAVE_KEK)
      opts.log?.(
        `warning: the backup does not contain the key-encryption key; keep ${kekFilePath(dataDir)} (or ENCLAVE_KEK) separately — without it the backup cannot be restored`,
      );
    else
      opts.log?.(
        'warning: the backup does not contain the key-encryption key; keep ENCLAVE_KEK separately — without it the backup cannot be restored',
      );
    return { out, bytes, entries: entries.length, caFingerprint, organization };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(partial, { force: true });
  }
}

export interface RestoreOptions {
  dataDir: string;
  from: string;
  /** Where the KEK comes from: `ENCLAVE_KEK` in this environment (default process.env) … */
  env?: NodeJS.ProcessEnv;
  /** … or a key file kept from the original installation, copied to DATA/kek on success. */
  kekFile?: string | undefined;
  log?: (line: string) => void;
}

export interface RestoreResult {
  dataDir: string;
  caFingerprint: string;
  organization: string;
  entries: number;
}

function validEntryName(name: string): boolean {
  if (name === DB_ENTRY) return true;
  if (!name.startsWith(`${ATTACHMENTS}/`)) return false;
  const parts = name.split('/');
  return parts.every((p) => p !== '' && p !== '.' && p !== '..' && !p.includes('\\') && !p.includes('\0'));
}

/** Reads and checks the archive's header; returns it and where the entries start. */
function readHeader(fd: number, fileSize: number, from: string): { header: BackupHeader; dataStart: number } {
  const fixed = Buffer.alloc(12);
  if (fs.readSync(fd, fixed, 0, 12, 0) !== 12 || !fixed.subarray(0, 8).equals(MAGIC))
    throw new BackupError(`${from} is not an Enclave backup`);
  const len = fixed.readUInt32BE(8);
  if (len > 16 * 1024 * 1024 || 12 + len + 32 > fileSize)
    throw new BackupError(`${from} is damaged (bad header length)`);
  const headerBytes = Buffer.alloc(len);
  const digest = Buffer.alloc(32);
  fs.readSync(fd, headerBytes, 0, len, 12);
  fs.readSync(fd, digest, 0, 32, 12 + len);
  if (!createHash('sha256').update(headerBytes).digest().equals(digest))
    throw new BackupError(`${from} is damaged (header checksum mismatch)`);
  const header = JSON.parse(headerBytes.toString('utf8')) as BackupHeader;
  if (header.format !== BACKUP_FORMAT)
    throw new BackupError(`${from} has backup format ${header.format}; this version reads ${BACKUP_FORMAT}`);
  const names = new Set<string>();
  for (const e of header.entries) {
    if (!validEntryName(e.name) || names.has(e.name) || !Number.isSafeInteger(e.size) || e.size < 0)
      throw new BackupError(`${from} is damaged (bad entry ${JSON.stringify(e.name)})`);
    names.add(e.name);
  }
  if (!names.has(DB_ENTRY)) throw new BackupError(`${from} has no database`);
  const dataStart = 12 + len + 32;
  const expected = dataStart + header.entries.reduce((a, e) => a + e.size, 0);
  if (expected !== fileSize)
    throw new BackupError(
      `${from} is damaged (${fileSize} bytes, expected ${expected}): truncated or altered`,
    );
  return { header, dataStart };
}

/** Streams every entry, checking its SHA-256; `sink` (if given) receives the bytes. */
function forEachEntry(
  fd: number,
  header: BackupHeader,
  dataStart: number,
  from: string,
  sink?: (e: BackupEntry) => { write(b: Buffer): void; done(): void },
  progress?: (n: number) => void,
): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = dataStart;
  for (const e of header.entries) {
    const hash = createHash('sha256');
    const out = sink?.(e);
    let left = e.size;
    while (left > 0) {
      const n = fs.readSync(fd, buf, 0, Math.min(CHUNK, left), pos);
      if (n === 0) throw new BackupError(`${from} is truncated`);
      hash.update(buf.subarray(0, n));
      out?.write(buf.subarray(0, n));
      pos += n;
      left -= n;
      progress?.(n);
    }
    out?.done();
    if (hash.digest('hex') !== e.sha256)
      throw new BackupError(`${from} is damaged: checksum mismatch in ${e.name}`);
  }
}

/**
 * Restores a backup into an empty data directory, then proves the KEK opens it. On any failure
 * everything it wrote is removed and the directory is left as it was found.
 */
export async function restoreEnclave(opts: RestoreOptions): Promise<RestoreResult> {
  const dataDir = path.resolve(opts.dataDir);
  const from = path.resolve(opts.from);
  const existed = fs.existsSync(dataDir);
  if (existed) {
    if (!fs.statSync(dataDir).isDirectory()) throw new BackupError(`${dataDir} is not a directory`);
    if (fs.readdirSync(dataDir).length > 0)
      throw new BackupError(`${dataDir} is not empty: restore into a new or empty directory`);
  }
  let kekFromFile: string | undefined;
  if (opts.kekFile !== undefined) {
    kekFromFile = fs.readFileSync(opts.kekFile, 'utf8').trim();
  }
  let fd: number;
  try {
    fd = fs.openSync(from, 'r');
  } catch (err) {
    throw new BackupError(
      `cannot read ${from}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const { header, dataStart } = readHeader(fd, fs.fstatSync(fd).size, from);
    // Verify everything before writing anything.
    forEachEntry(fd, header, dataStart, from);
    const total = header.entries.reduce((a, e) => a + e.size, 0);
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    try {
      forEachEntry(
        fd,
        header,
        dataStart,
        from,
        (e) => {
          const file = path.join(dataDir, ...e.name.split('/'));
          fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
          const out = fs.openSync(file, 'wx', 0o600);
          return {
            write: (b) => {
              let off = 0;
              while (off < b.length) off += fs.writeSync(out, b, off, b.length - off);
            },
            done: () => {
              fs.fsyncSync(out);
              fs.closeSync(out);
            },
          };
        },
        progressReporter(total, opts.log && ((l) => opts.log?.(l.replace(/^backup:/, 'restore:')))),
      );
      // Prove that the KEK opens the restored installation.
      const env = { ...(opts.env ?? process.env) };
      if (kekFromFile !== undefined) env.ENCLAVE_KEK = kekFromFile;
      if (!env.ENCLAVE_KEK)
        throw new BackupError(
          "no key-encryption key: set ENCLAVE_KEK or pass --kek-file with the original installation's key file; nothing was restored",
        );
      const enclave = await openEnclave({ dataDir, env });
      const caFingerprint = enclave.pki.caFingerprint;
      await enclave.close();
      if (caFingerprint !== header.caFingerprint)
        throw new BackupError(
          `the restored CA fingerprint ${caFingerprint} differs from the backup's ${header.caFingerprint}`,
        );
      if (kekFromFile !== undefined)
        fs.writeFileSync(kekFilePath(dataDir), `${kekFromFile}\n`, { mode: 0o600, flag: 'wx' });
      return { dataDir, caFingerprint, organization: header.organization, entries: header.entries.length };
    } catch (err) {
      // Leave the directory as found: empty (if it existed) or absent.
      for (const name of fs.existsSync(dataDir) ? fs.readdirSync(dataDir) : [])
        fs.rmSync(path.join(dataDir, name), { recursive: true, force: true });
      if (!existed) fs.rmSync(dataDir, { recursive: true, force: true });
      if (err instanceof BackupError) throw err;
      if (err instanceof Error && err.name === 'KekError')
        throw new BackupError(`cannot open the restored installation: ${err.message}; nothing was restored`);
      throw new BackupError(`restore failed, nothing was restored: ${(err as Error).message}`);
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw new BackupError(`${from} is damaged (unreadable header)`);
    throw err;
  } finally {
    fs.closeSync(fd);
  }
}
