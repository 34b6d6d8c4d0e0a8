// One load-generator thread: activates devices one after another (each runs the device's deliberate
// Argon2id inside OPAQUE, which is the device's cost, not the server's).
import { parentPort, workerData } from 'node:worker_threads';
import { activateDevice, httpsTransport } from '@enclave/client';

const transport = httpsTransport({ baseUrl: workerData.url, insecure: true });
const results = [];
for (const job of workerData.jobs) {
  const t0 = performance.now();
  try {
    const d = await activateDevice({
      transport,
      email: job.email,
      activationPassword: job.password,
      platform: 'bench',
      clientVersion: '0.0.0',
    });
    results.push({
      ok: true,
      ms: performance.now() - t0,
      deviceId: d.deviceId,
      key: Buffer.from(d.privateKeyPkcs8).toString('base64'),
    });
  } catch (err) {
    results.push({ ok: false, ms: performance.now() - t0, error: String(err) });
  }
}
parentPort.postMessage(results);
