import path from 'node:path';
import { activateDevice, writeDeviceDir } from '@enclave/client';
import type { TestEnclave } from './harness.js';

/**
 * Activates a real device for `email` over OPAQUE and writes its device directory (unencrypted key,
 * as a test device), the way `enclave device activate` does. Returns the directory and device id.
 */
export async function activateDeviceDir(
  t: TestEnclave,
  adminToken: string,
  email: string,
  root: string,
  name: string,
): Promise<{ dir: string; id: string }> {
  const p = await t.inject('POST', '/api/v1/activations', { token: adminToken, body: { email } });
  if (p.status !== 201) throw new Error(`activation password for ${email}: ${p.text}`);
  const d = await activateDevice({
    transport: t.transport,
    email,
    activationPassword: p.json.password,
    platform: 'test',
    clientVersion: '1.0.0',
  });
  const dir = path.join(root, name);
  await writeDeviceDir(
    dir,
    {
      record: {
        deviceId: d.deviceId,
        server: 'https://test',
        userEmail: email,
        caFingerprint: d.caFingerprint,
        platform: 'test',
        clientVersion: '1.0.0',
        activatedAt: new Date().toISOString(),
      },
      certificatePem: d.certificatePem,
      chainPem: d.chainPem,
      privateKeyPkcs8: d.privateKeyPkcs8,
    },
    { passphrase: null },
  );
  return { dir, id: d.deviceId };
}
