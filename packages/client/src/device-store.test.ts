import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportPkcs8, generateEd25519, signEd25519, verifyWithCertificate } from '@enclave/crypto';
import { activateDevice } from './activation.js';
import {
  DeviceStoreError,
  decodeDeviceKeyPem,
  encodeDeviceKeyPem,
  hasDevice,
  readDeviceDir,
  writeDeviceDir,
  type DeviceRecord,
} from './device-store.js';
import { createFakeServer } from './testing/fake-server.js';

const record: DeviceRecord = {
  deviceId: '00000000-0000-4000-8000-000000000001',
  server: 'https://127.0.0.1:8443',
  userEmail: 'alice@example.com',
  caFingerprint: 'ab'.repeat(32),
  platform: 'node-test',
  clientVersion: '0.1.0',
  activatedAt: '2025-01-01T00:00:00.000Z',
};

async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'enclave-store-'));
  try {
    await fn(join(base, 'device'));
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function activated() {
  const server = await createFakeServer({ email: 'alice@example.com', passwords: ['pw-123456789'] });
  return activateDevice({
    transport: server.transport,
    email: 'alice@example.com',
    activationPassword: 'pw-123456789',
    platform: 'node-test',
    clientVersion: '1',
  });
}

describe('device store', () => {
  it('round-trips a device directory with 0700 dir and 0600 key', async () => {
    const device = await activated();
    await withTmp(async (dir) => {
      const paths = await writeDeviceDir(
        dir,
        {
          record: { ...record, deviceId: device.deviceId },
          certificatePem: device.certificatePem,
          chainPem: device.chainPem,
          privateKeyPkcs8: device.privateKeyPkcs8,
        },
        { passphrase: null },
      );
      assert.equal((await stat(paths.dir)).mode & 0o777, 0o700);
      assert.equal((await stat(paths.key)).mode & 0o777, 0o600);
      assert.match(await readFile(paths.key, 'utf8'), /-----BEGIN PRIVATE KEY-----/);
      assert.ok(await hasDevice(dir));
      const loaded = await readDeviceDir(dir, { passphrase: null });
      assert.equal(loaded.record.deviceId, device.deviceId);
      assert.deepEqual(
        loaded.chainPem.map((p) => p.trim()),
        device.chainPem.map((p) => p.trim()),
      );
      assert.ok(Buffer.from(loaded.privateKeyPkcs8).equals(device.privateKeyPkcs8));
      // The loaded key signs for the certified public key.
      const sig = await signEd25519(loaded.privateKey, Buffer.from('hello'));
      const { parseCertificate } = await import('@enclave/crypto');
      assert.ok(
        await verifyWithCertificate(parseCertificate(loaded.certificatePem), Buffer.from('hello'), sig),
      );
    });
  });

  it('encrypts the key under a passphrase and refuses to open it without', async () => {
    const device = await activated();
    await withTmp(async (dir) => {
      const paths = await writeDeviceDir(
        dir,
        {
          record,
          certificatePem: device.certificatePem,
          chainPem: device.chainPem,
          privateKeyPkcs8: device.privateKeyPkcs8,
        },
        { passphrase: 'correct horse battery' },
      );
      const pem = await readFile(paths.key, 'utf8');
      assert.match(pem, /-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.equal((await stat(paths.key)).mode & 0o777, 0o600);
      const loaded = await readDeviceDir(dir, { passphrase: 'correct horse battery' });
      assert.ok(Buffer.from(loaded.privateKeyPkcs8).equals(device.privateKeyPkcs8));
      await assert.rejects(
        readDeviceDir(dir, { passphrase: null }),
        (e: unknown) => e instanceof DeviceStoreError && e.code === 'device_key_locked',
      );
      await assert.rejects(
        readDeviceDir(dir, { passphrase: 'wrong' }),
        (e: unknown) => e instanceof DeviceStoreError && e.code === 'device_key_locked',
      );
    });
  });

  it('takes the passphrase from ENCLAVE_DEVICE_PASSPHRASE when none is given', async () => {
    const der = await exportPkcs8((await generateEd25519()).privateKey);
    const before = process.env.ENCLAVE_DEVICE_PASSPHRASE;
    process.env.ENCLAVE_DEVICE_PASSPHRASE = 'from the environment';
    try {
      const device = await activated();
      await withTmp(async (dir) => {
        const paths = await writeDeviceDir(dir, {
          record,
          certificatePem: device.certificatePem,
          chainPem: device.chainPem,
          privateKeyPkcs8: der,
        });
        assert.match(await readFile(paths.key, 'utf8'), /ENCRYPTED PRIVATE KEY/);
        assert.ok(Buffer.from((await readDeviceDir(dir)).privateKeyPkcs8).equals(der));
      });
    } finally {
      if (before === undefined) delete process.env.ENCLAVE_DEVICE_PASSPHRASE;
      else process.env.ENCLAVE_DEVICE_PASSPHRASE = before;
    }
  });

  it('refuses to overwrite an activated device and reports a missing one', async () => {
    const device = await activated();
    await withTmp(async (dir) => {
      await assert.rejects(
        readDeviceDir(dir),
        (e: unknown) => e instanceof DeviceStoreError && e.code === 'device_dir_missing',
      );
      const files = {
        record,
        certificatePem: device.certificatePem,
        chainPem: device.chainPem,
        privateKeyPkcs8: device.privateKeyPkcs8,
      };
      await writeDeviceDir(dir, files, { passphrase: null });
      await assert.rejects(
        writeDeviceDir(dir, files, { passphrase: null }),
        (e: unknown) => e instanceof DeviceStoreError && e.code === 'device_dir_exists',
      );
    });
  });

  it('encodes and decodes PKCS#8 PEM both ways', async () => {
    const der = await exportPkcs8((await generateEd25519()).privateKey);
    assert.ok(decodeDeviceKeyPem(encodeDeviceKeyPem(der)).equals(der));
    assert.ok(decodeDeviceKeyPem(encodeDeviceKeyPem(der, 'pw'), 'pw').equals(der));
  });
});
