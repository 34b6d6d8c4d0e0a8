import { createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { importPkcs8 } from '@enclave/crypto';
import { joinPem, splitPem } from './ca-chain.js';

/** Environment variable holding the passphrase that encrypts `device.key` at rest. */
export const DEVICE_PASSPHRASE_ENV = 'ENCLAVE_DEVICE_PASSPHRASE';

/** `device.json`: what a device directory remembers about its activation. */
export const DeviceRecordSchema = z.object({
  deviceId: z.string(),
  /** Server origin, `https://host:port`. */
  server: z.string(),
  userEmail: z.string(),
  /** SHA-256 of the enterprise root certificate's DER, lower-case hex. */
  caFingerprint: z.string(),
  platform: z.string(),
  clientVersion: z.string(),
  activatedAt: z.string(),
});
/** The contents of `device.json`. */
export type DeviceRecord = z.infer<typeof DeviceRecordSchema>;

/** The files of a device directory. */
export interface DevicePaths {
  dir: string;
  /** `device.pem` — the device certificate. */
  certificate: string;
  /** `ca.pem` — issuing CA then root, PEM. */
  ca: string;
  /** `device.key` — PKCS#8 PEM, mode 0600, encrypted when a passphrase is set. */
  key: string;
  /** `device.json` — {@link DeviceRecord}. */
  record: string;
}

/** Why a device directory could not be used. */
export type DeviceStoreErrorCode =
  'device_dir_missing' | 'device_dir_invalid' | 'device_dir_exists' | 'device_key_locked';

/** A device directory that is missing, incomplete, already in use, or whose key does not open. */
export class DeviceStoreError extends Error {
  constructor(
    readonly code: DeviceStoreErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceStoreError';
  }
}

/** Options shared by the read and write helpers. */
export interface DeviceStoreOptions {
  /**
   * Passphrase for `device.key`. When the property is absent, `ENCLAVE_DEVICE_PASSPHRASE` is used;
   * pass `null` to force an unencrypted key regardless of the environment.
   */
  passphrase?: string | null;
}

/** Everything an activated device keeps on disk. */
export interface DeviceFiles {
  record: DeviceRecord;
  certificatePem: string;
  /** Issuing CA first, root last. */
  chainPem: string[];
  /** PKCS#8 DER of the device's Ed25519 private key. */
  privateKeyPkcs8: Uint8Array;
}

/** A device directory read back, with the private key imported for signing. */
export interface LoadedDevice extends DeviceFiles {
  paths: DevicePaths;
  /** The CA bundle as written (`ca.pem`), for pinning TLS. */
  caPem: string;
  /** Non-extractable Ed25519 signing key. */
  privateKey: CryptoKey;
}

/** The file names inside device directory `dir` (resolved to absolute paths). */
export function devicePaths(dir: string): DevicePaths {
  const d = resolve(dir);
  return {
    dir: d,
    certificate: join(d, 'device.pem'),
    ca: join(d, 'ca.pem'),
    key: join(d, 'device.key'),
    record: join(d, 'device.json'),
  };
}

function passphraseOf(opts: DeviceStoreOptions): string | undefined {
  if ('passphrase' in opts) return opts.passphrase ?? undefined;
  const env = process.env[DEVICE_PASSPHRASE_ENV];
  return env ? env : undefined;
}

/**
 * PEM-encodes a PKCS#8 private key; with a passphrase it becomes an `ENCRYPTED PRIVATE KEY`
 * (PKCS#8 PBES2, AES-256-CBC, RFC 8018) that OpenSSL can open too.
 */
export function encodeDeviceKeyPem(pkcs8Der: Uint8Array, passphrase?: string): string {
  const key = createPrivateKey({ key: Buffer.from(pkcs8Der), format: 'der', type: 'pkcs8' });
  const pem = passphrase
    ? key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase })
    : key.export({ format: 'pem', type: 'pkcs8' });
  return pem.toString();
}

/**
 * Decodes `device.key` back to PKCS#8 DER. Throws {@link DeviceStoreError} `device_key_locked` when
 * the key is encrypted and the passphrase is missing or wrong.
 */
export function decodeDeviceKeyPem(pem: string, passphrase?: string): Buffer {
  const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
  if (encrypted && !passphrase) {
    throw new DeviceStoreError(
      'device_key_locked',
      `the device key is encrypted — set ${DEVICE_PASSPHRASE_ENV} to its passphrase`,
    );
  }
  try {
    const key = createPrivateKey(
      encrypted ? { key: pem, format: 'pem', passphrase: passphrase ?? '' } : { key: pem, format: 'pem' },
    );
    return key.export({ format: 'der', type: 'pkcs8' });
  } catch {
    throw new DeviceStoreError(
      encrypted ? 'device_key_locked' : 'device_dir_invalid',
      encrypted
        ? `the device key does not open with the passphrase in ${DEVICE_PASSPHRASE_ENV}`
        : 'device.key is not a PKCS#8 private key',
    );
  }
}

/** True when `dir` already holds an activated device (`device.json` exists). */
export async function hasDevice(dir: string): Promise<boolean> {
  try {
    await stat(devicePaths(dir).record);
    return true;
  } catch {
    return false;
  }
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  // Write beside and rename, so a crash never leaves a half-written key or certificate.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode); // the umask may have narrowed or the file may have existed
  await rename(tmp, path);
}

/**
 * Writes an activated device to `dir` (created with mode 0700 when missing). `device.key` is
 * mode 0600 and encrypted when a passphrase is set. Refuses a directory that already holds a
 * device ({@link DeviceStoreError} `device_dir_exists`).
 * @example await writeDeviceDir('./phone', { record, certificatePem, chainPem, privateKeyPkcs8 });
 */
export async function writeDeviceDir(
  dir: string,
  files: DeviceFiles,
  opts: DeviceStoreOptions = {},
): Promise<DevicePaths> {
  const paths = devicePaths(dir);
  if (await hasDevice(dir)) {
    throw new DeviceStoreError(
      'device_dir_exists',
      `${paths.dir} already holds an activated device — choose another directory`,
    );
  }
  const created = await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(paths.dir, 0o700); // mkdir's mode is filtered by the umask
  const record = DeviceRecordSchema.parse(files.record);
  await writeAtomic(paths.key, encodeDeviceKeyPem(files.privateKeyPkcs8, passphraseOf(opts)), 0o600);
  await writeAtomic(paths.certificate, `${files.certificatePem.trim()}\n`, 0o644);
  await writeAtomic(paths.ca, joinPem(files.chainPem), 0o644);
  // device.json last: its presence is what marks the directory as holding a complete device.
  await writeAtomic(paths.record, `${JSON.stringify(record, null, 2)}\n`, 0o600);
  return paths;
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DeviceStoreError(
      code === 'ENOENT' ? 'device_dir_missing' : 'device_dir_invalid',
      `cannot read ${what} (${path}): ${code ?? 'error'}`,
    );
  }
}

/**
 * Reads a device directory written by {@link writeDeviceDir} and imports its private key.
 * Throws {@link DeviceStoreError} when a file is missing or malformed, or the key does not open.
 */
export async function readDeviceDir(dir: string, opts: DeviceStoreOptions = {}): Promise<LoadedDevice> {
  const paths = devicePaths(dir);
  if (!(await hasDevice(dir))) {
    throw new DeviceStoreError(
      'device_dir_missing',
      `${paths.dir} holds no activated device — run \`enclave device activate --dir ${dir} ...\` first`,
    );
  }
  let record: DeviceRecord;
  try {
    record = DeviceRecordSchema.parse(JSON.parse(await readText(paths.record, 'device.json')));
  } catch (err) {
    if (err instanceof DeviceStoreError) throw err;
    throw new DeviceStoreError('device_dir_invalid', `${paths.record} is not a valid device record`);
  }
  const certificatePem = await readText(paths.certificate, 'the device certificate');
  const caPem = await readText(paths.ca, 'the CA chain');
  const chainPem = splitPem(caPem);
  if (chainPem.length === 0)
    throw new DeviceStoreError('device_dir_invalid', `${paths.ca} holds no certificate`);
  const privateKeyPkcs8 = decodeDeviceKeyPem(await readText(paths.key, 'the device key'), passphraseOf(opts));
  let privateKey: CryptoKey;
  try {
    privateKey = await importPkcs8(privateKeyPkcs8, 'ed25519');
  } catch {
    throw new DeviceStoreError('device_dir_invalid', `${paths.key} is not an Ed25519 private key`);
  }
  return { paths, record, certificatePem, caPem, chainPem, privateKeyPkcs8, privateKey };
}
