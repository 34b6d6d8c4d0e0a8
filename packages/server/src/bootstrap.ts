import fs from 'node:fs';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import * as opaque from '@serenity-kit/opaque';
import { sql } from 'kysely';
import {
  certificateFingerprint,
  createEnterpriseCa,
  exportPkcs8,
  importPkcs8,
  issueCommandSignerCertificate,
  issueServerCertificate,
  parseCertificate,
  pkcs8Pem,
  type x509,
} from '@enclave/crypto';
import { type DbHandle, openDatabase, sqlitePath } from './platform/db/database.js';
import { MetaRepository } from './platform/db/meta.repository.js';
import { migrateToLatest } from './platform/db/migrations.js';
import { KekError, type KekSource, resolveKek } from './platform/keystore/kek.js';
import { Keystore, SecretBox } from './platform/keystore/keystore.js';
import type { PkiMaterial } from './modules/pki/index.js';

/** An opened installation: database, unlocked keystore, CA material and the server's TLS identity. */
export interface Enclave {
  /** The data directory (key file, attachments, backups). */
  dataDir: string;
  handle: DbHandle;
  meta: MetaRepository;
  keystore: Keystore;
  secrets: SecretBox;
  pki: PkiMaterial;
  serverSetup: string;
  tls: { certPem: string; keyPem: string; chainPem: string };
  kek: Pick<KekSource, 'source' | 'created'>;
  /** True when this call created the installation. */
  created: boolean;
  close(): Promise<void>;
}

export interface OpenOptions {
  dataDir: string;
  dbUrl?: string | undefined;
  /** Organisation name, used only when creating the installation. */
  organization?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Host names / addresses the TLS certificate must cover. */
  hosts?: string[];
}

const TLS_RENEW_MS = 30 * 86_400_000;

async function isInitialised(handle: DbHandle): Promise<boolean> {
  try {
    const row = await handle.db
      .selectFrom('meta')
      .select('value')
      .where('key', '=', 'kek_salt')
      .executeTakeFirst();
    return row !== undefined;
  } catch {
    return false; // no meta table yet
  }
}

/**
 * Opens (or on first use creates) an installation. The KEK is checked before anything is written,
 * so a wrong or missing KEK leaves the data directory as it was.
 */
export async function openEnclave(opts: OpenOptions): Promise<Enclave> {
  const env = opts.env ?? process.env;
  const isSqlite = !opts.dbUrl || opts.dbUrl.startsWith('sqlite:');
  const dbExists =
    !isSqlite ||
    fs.existsSync(opts.dbUrl?.startsWith('sqlite:') ? opts.dbUrl.slice(7) : sqlitePath(opts.dataDir));
  // The data directory exists even on PostgreSQL: it holds the key file (if used) and backups.
  fs.mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  const handle = openDatabase({ dataDir: opts.dataDir, dbUrl: opts.dbUrl });
  try {
    return await underInitLock(handle, () => open(handle, opts, env, dbExists));
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}

/** PostgreSQL advisory lock key of first starts ("encl"). */
const INIT_LOCK = 0x656e636c;

/**
 * Nodes of a cluster may start together on an empty PostgreSQL database: one creates the
 * installation while the others wait, then open what it created (instead of each creating a CA).
 */
async function underInitLock<T>(handle: DbHandle, fn: () => Promise<T>): Promise<T> {
  if (handle.kind !== 'postgres') return fn();
  return handle.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${INIT_LOCK}::bigint)`.execute(conn);
    try {
      return await fn();
    } finally {
      await sql`select pg_advisory_unlock(${INIT_LOCK}::bigint)`.execute(conn);
    }
  });
}

async function open(
  handle: DbHandle,
  opts: OpenOptions,
  env: NodeJS.ProcessEnv,
  dbExists: boolean,
): Promise<Enclave> {
  const initialised = dbExists && (await isInitialised(handle));
  const kek = resolveKek(opts.dataDir, env, !initialised);
  const meta = new MetaRepository(handle.db);
  let keystore: Keystore;
  if (initialised) {
    keystore = await Keystore.unlock(handle.db, kek.kek);
    await migrateToLatest(handle.db as never, handle.kind);
  } else {
    await migrateToLatest(handle.db as never, handle.kind);
    keystore = await Keystore.create(handle.db, kek.kek);
    await createMaterial(meta, keystore, opts.organization ?? 'Enclave', opts.hosts ?? defaultHosts());
  }
  const enclave = await loadMaterial(handle, meta, keystore, opts.hosts ?? defaultHosts());
  return {
    ...enclave,
    dataDir: opts.dataDir,
    kek: { source: kek.source, created: kek.created },
    created: !initialised,
  };
}

export function defaultHosts(): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', os.hostname()])];
}

async function createMaterial(
  meta: MetaRepository,
  keystore: Keystore,
  organization: string,
  hosts: string[],
): Promise<void> {
  const { root, issuing } = await createEnterpriseCa(organization);
  await keystore.put('root-ca', await exportPkcs8(root.privateKey));
  await keystore.put('issuing-ca', await exportPkcs8(issuing.privateKey));
  // The OPAQUE server setup holds the OPRF seed and the server's AKE private key (RFC 9807 §4.1.1).
  await keystore.put('opaque-server-setup', Buffer.from(opaque.server.createSetup(), 'utf8'));
  await keystore.put('data-key', randomBytes(32));
  await meta.set('organization', organization);
  await meta.set('root_cert', root.certificate.toString('pem'));
  await meta.set('issuing_cert', issuing.certificate.toString('pem'));
  await meta.set('ca_fingerprint', certificateFingerprint(root.certificate));
  await meta.set('created_at', new Date().toISOString());
  await issueTls(meta, keystore, { certificate: issuing.certificate, privateKey: issuing.privateKey }, hosts);
}

async function issueTls(
  meta: MetaRepository,
  keystore: Keystore,
  issuing: { certificate: x509.X509Certificate; privateKey: CryptoKey },
  hosts: string[],
) {
  const tls = await issueServerCertificate(issuing, hosts);
  await keystore.put('tls', tls.privateKeyPkcs8);
  await meta.set('tls_cert', tls.certificate.toString('pem'));
}

function tlsCovers(certPem: string, hosts: string[]): boolean {
  const cert = parseCertificate(certPem);
  const san = cert.getExtension<x509.SubjectAlternativeNameExtension>('2.5.29.17');
  const names = new Set((san?.names.items ?? []).map((n) => n.value));
  return hosts.every((h) => names.has(h)) && cert.notAfter.getTime() - Date.now() > TLS_RENEW_MS;
}

async function loadMaterial(handle: DbHandle, meta: MetaRepository, keystore: Keystore, hosts: string[]) {
  const need = async (key: string) => {
    const v = await meta.get(key);
    if (v === undefined)
      throw new KekError(
        `the installation is incomplete (${key} missing): restore the database from a backup`,
      );
    return v;
  };
  await opaque.ready;
  const organization = await need('organization');
  const root = parseCertificate(await need('root_cert'));
  const issuingCert = parseCertificate(await need('issuing_cert'));
  const issuing = {
    certificate: issuingCert,
    privateKey: await importPkcs8(await keystore.get('issuing-ca'), 'ed25519'),
  };
  let tlsCert = await need('tls_cert');
  if (!tlsCovers(tlsCert, hosts)) {
    const existing =
      parseCertificate(tlsCert).getExtension<x509.SubjectAlternativeNameExtension>('2.5.29.17');
    await issueTls(meta, keystore, issuing, [
      ...new Set([...hosts, ...(existing?.names.items ?? []).map((n) => n.value)]),
    ]);
    tlsCert = await need('tls_cert');
  }
  // The command signer came with remote commands: installations from before get one on their next start.
  if (!(await keystore.has('command-signer'))) {
    const signer = await issueCommandSignerCertificate(issuing, organization);
    await keystore.put('command-signer', signer.privateKeyPkcs8);
    await meta.set('command_signer_cert', signer.certificate.toString('pem'));
  }
  const commandSigner = {
    certificate: parseCertificate(await need('command_signer_cert')),
    privateKey: await importPkcs8(await keystore.get('command-signer'), 'ed25519'),
  };
  const chainPem = [issuingCert.toString('pem'), root.toString('pem')].join('\n');
  return {
    handle,
    meta,
    keystore,
    secrets: new SecretBox(await keystore.get('data-key')),
    pki: { organization, root, issuing, commandSigner, caFingerprint: certificateFingerprint(root) },
    serverSetup: (await keystore.get('opaque-server-setup')).toString('utf8'),
    tls: { certPem: tlsCert, keyPem: pkcs8Pem(await keystore.get('tls')), chainPem },
    close: () => handle.close(),
  };
}
