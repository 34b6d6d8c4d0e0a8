import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { activateDevice } from './activation.js';
import { authenticateDevice, DeviceClient } from './device-auth.js';
import { ApiError } from './transport.js';
import { createFakeServer } from './testing/fake-server.js';

describe('authenticateDevice', () => {
  it("signs the challenge and reads the device's own record", async () => {
    const server = await createFakeServer({ email: 'bob@example.com', passwords: ['pw-123456789'] });
    const device = await activateDevice({
      transport: server.transport,
      email: 'bob@example.com',
      activationPassword: 'pw-123456789',
      platform: 'node-test',
      clientVersion: '1',
    });
    const { token } = await authenticateDevice({
      transport: server.transport,
      deviceId: device.deviceId,
      privateKey: device.privateKeyPkcs8,
    });
    const self = await new DeviceClient(server.transport, token).me();
    assert.equal(self.deviceId, device.deviceId);
    assert.equal(self.status, 'active');
  });

  it('fails with device_revoked for a revoked device', async () => {
    const server = await createFakeServer({ email: 'bob@example.com', passwords: ['pw-123456789'] });
    const device = await activateDevice({
      transport: server.transport,
      email: 'bob@example.com',
      activationPassword: 'pw-123456789',
      platform: 'node-test',
      clientVersion: '1',
    });
    const entry = server.devices.get(device.deviceId);
    assert.ok(entry);
    entry.revoked = true;
    await assert.rejects(
      authenticateDevice({
        transport: server.transport,
        deviceId: device.deviceId,
        privateKey: device.keyPair.privateKey,
      }),
      (e: unknown) => e instanceof ApiError && e.code === 'device_revoked' && e.status === 403,
    );
  });
});
