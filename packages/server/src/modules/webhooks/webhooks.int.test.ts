import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { activateDevice } from '@enclave/client';
import {
  ActivationCreatedSchema,
  UserSchema,
  WebhookDeliveryPageSchema,
  WebhookDeliverySchema,
  WebhookListSchema,
  WebhookPayloadSchema,
  WebhookWithSecretSchema,
} from '@enclave/protocol';
import { assertBody, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { sleep, waitFor } from '../../test-support/messaging-fixtures.js';

/** One request the receiver got, with the result of checking its signature. */
interface Received {
  path: string;
  event: string;
  delivery: string;
  body: string;
  verified: boolean;
  why: string;
}

/**
 * What a receiver should do: written here from the documented scheme (docs/API.md), independent of
 * the server's signing code. Checks the timestamp is recent and `v1=` is
 * HMAC-SHA-256(secret, "<timestamp>.<body>"), compared in constant time.
 */
function verify(secret: string, headers: http.IncomingHttpHeaders, body: string): string | null {
  const ts = headers['x-enclave-timestamp'];
  const sig = headers['x-enclave-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string') return 'missing headers';
  if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return 'stale timestamp';
  const m = /^v1=([0-9a-f]{64})$/.exec(sig);
  if (!m?.[1]) return 'malformed signature';
  const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${ts}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(m[1], 'hex')) ? null : 'signature mismatch';
}

describe('webhooks', () => {
  let t: TestEnclave;
  let sa: string;
  let server: http.Server;
  let base: string;
  const received: Received[] = [];
  const secrets = new Map<string, string>(); // path → secret
  let flakyCalls = 0;
  const hanging: http.ServerResponse[] = [];

  const create = async (path: string, events: string[], enabled = true) => {
    const created = assertBody(
      await t.inject('POST', '/api/v1/webhooks', {
        token: sa,
        body: { url: `${base}${path}`, events, enabled, description: `receiver ${path}` },
      }),
      201,
      WebhookWithSecretSchema,
    );
    secrets.set(path, created.secret);
    return created;
  };
  const at = (path: string, event?: string) =>
    received.filter((r) => r.path === path && (event === undefined || r.event === event));

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '';
        const body = Buffer.concat(chunks).toString('utf8');
        const secret = secrets.get(path) ?? '';
        const why = verify(secret, req.headers, body);
        received.push({
          path,
          event: String(req.headers['x-enclave-event']),
          delivery: String(req.headers['x-enclave-delivery']),
          body,
          verified: why === null,
          why: why ?? 'ok',
        });
        if (path === '/flaky') {
          flakyCalls++;
          if (flakyCalls === 1) return void res.writeHead(500).end('boom');
          if (flakyCalls === 2) return void hanging.push(res); // never answers: the sender times out
        }
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    t = await testEnclave({
      webhooks: { retryDelaysMs: [50, 50, 50, 50, 50], timeoutMs: 400, pollIntervalMs: 25 },
    });
    sa = await t.adminToken('security-admin');
  });

  after(async () => {
    await t.close();
    for (const res of hanging) res.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('creates an endpoint and shows its secret only at creation', async () => {
    const created = await create('/main', ['user.created', 'device.activated']);
    assert.match(created.secret, /^whsec_/);
    const list = await t.inject('GET', '/api/v1/webhooks', { token: sa });
    const page = assertBody(list, 200, WebhookListSchema);
    assert.equal(page.items.length, 1);
    assert.deepEqual(page.items[0]?.events, ['user.created', 'device.activated']);
    assert.ok(!list.text.includes(created.secret));
    const one = await t.inject('GET', `/api/v1/webhooks/${created.webhook.id}`, { token: sa });
    assert.ok(!one.text.includes(created.secret));
  });

  it('refuses plain http:// except to the loopback interface, and URLs with credentials', async () => {
    for (const url of ['http://example.com/hook', 'ftp://127.0.0.1/x', 'https://u:p@example.com/x'])
      assertError(
        await t.inject('POST', '/api/v1/webhooks', { token: sa, body: { url, events: ['user.created'] } }),
        400,
        'validation_failed',
      );
  });

  it('delivers user.created, signed, to matching endpoints only', async () => {
    await create('/disabled', ['user.created'], false);
    await create('/other', ['device.revoked']);
    const user = assertBody(
      await t.inject('POST', '/api/v1/users', {
        token: sa,
        body: { email: 'hooked@example.com', name: 'Hooked' },
      }),
      201,
      UserSchema,
    );
    const got = await waitFor(() => at('/main', 'user.created')[0], 3000);
    const payload = WebhookPayloadSchema.parse(JSON.parse(got.body));
    assert.equal(payload.type, 'user.created');
    assert.equal(payload.data.userId, user.id);
    assert.equal(payload.data.email, 'hooked@example.com');
    await sleep(200);
    assert.equal(at('/disabled').length, 0, 'a disabled endpoint gets nothing');
    assert.equal(at('/other').length, 0, 'an endpoint not subscribed to user.created gets nothing');
  });

  it('delivers device.activated after a real activation', async () => {
    const created = assertBody(
      await t.inject('POST', '/api/v1/activations', { token: sa, body: { email: 'hooked@example.com' } }),
      201,
      ActivationCreatedSchema,
    );
    const device = await activateDevice({
      transport: t.transport,
      email: 'hooked@example.com',
      activationPassword: created.password,
      platform: 'node-linux',
      clientVersion: '0.0.0-test',
    });
    const got = await waitFor(() => at('/main', 'device.activated')[0]);
    const payload = WebhookPayloadSchema.parse(JSON.parse(got.body));
    assert.equal(payload.data.deviceId, device.deviceId);
  });

  it('retries a receiver that fails twice (500, then a timeout) and delivers on the third attempt', async () => {
    const flaky = await create('/flaky', ['*']);
    t.services.bus.publish('webhook.event', { type: 'command.state_changed', data: { commandId: 'c1' } });
    await waitFor(() => flakyCalls >= 3, 5000, 'three attempts');
    const log = await waitFor(async () => {
      const page = assertBody(
        await t.inject('GET', `/api/v1/webhooks/${flaky.webhook.id}/deliveries`, { token: sa }),
        200,
        WebhookDeliveryPageSchema,
      );
      const d = page.items.find((i) => i.event === 'command.state_changed');
      return d?.status === 'delivered' ? d : undefined;
    });
    assert.equal(log.attempts, 3);
    assert.equal(log.lastStatusCode, 204);
    assert.equal(log.lastError, null);
    assert.deepEqual(
      log.attemptLog.map((a) => a.statusCode),
      [500, null, 204],
    );
    assert.match(log.attemptLog[1]?.error ?? '', /no answer within/);
    const flakyGot = at('/flaky', 'command.state_changed');
    assert.equal(flakyGot.length, 3);
    assert.equal(new Set(flakyGot.map((r) => r.delivery)).size, 1, 'the same delivery id on each retry');
  });

  it('gives up after the last attempt and says so in the log', async () => {
    // A port that was just free: connections to it are refused.
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = assertBody(
      await t.inject('POST', '/api/v1/webhooks', {
        token: sa,
        body: { url: `http://127.0.0.1:${closedPort}/refused`, events: ['device.compliance_changed'] },
      }),
      201,
      WebhookWithSecretSchema,
    );
    t.services.bus.publish('webhook.event', { type: 'device.compliance_changed', data: { deviceId: 'x' } });
    const d = await waitFor(async () => {
      const page = assertBody(
        await t.inject('GET', `/api/v1/webhooks/${dead.webhook.id}/deliveries`, { token: sa }),
        200,
        WebhookDeliveryPageSchema,
      );
      return page.items[0]?.status === 'failed' ? page.items[0] : undefined;
    }, 5000);
    assert.equal(d.attempts, 6);
    assert.equal(d.nextAttemptAt, null);
    assert.match(d.lastError ?? '', /connection failed/);
  });

  it('sends webhook.test on request, signed with the rotated secret', async () => {
    const list = assertBody(await t.inject('GET', '/api/v1/webhooks', { token: sa }), 200, WebhookListSchema);
    const main = list.items.find((w) => w.url.endsWith('/main'));
    assert.ok(main);
    const rotated = assertBody(
      await t.inject('POST', `/api/v1/webhooks/${main.id}/rotate-secret`, { token: sa }),
      200,
      WebhookWithSecretSchema,
    );
    assert.notEqual(rotated.secret, secrets.get('/main'));
    secrets.set('/main', rotated.secret);
    assertBody(
      await t.inject('POST', `/api/v1/webhooks/${main.id}/test`, { token: sa }),
      202,
      WebhookDeliverySchema,
    );
    await waitFor(() => at('/main', 'webhook.test').length);
  });

  it('verified the signature and timestamp of every delivery', () => {
    assert.ok(received.length >= 6);
    assert.deepEqual(
      received.filter((r) => !r.verified).map((r) => `${r.path} ${r.event}: ${r.why}`),
      [],
    );
  });

  it('lets an auditor read but not change, and refuses a junior-helpdesk with 403', async () => {
    const auditor = await t.adminToken('auditor');
    const junior = await t.adminToken('junior-helpdesk');
    assertBody(await t.inject('GET', '/api/v1/webhooks', { token: auditor }), 200, WebhookListSchema);
    const body = { url: `${base}/nope`, events: ['user.created'] };
    assertError(await t.inject('POST', '/api/v1/webhooks', { token: auditor, body }), 403, 'forbidden');
    assertError(await t.inject('GET', '/api/v1/webhooks', { token: junior }), 403, 'forbidden');
    assertError(await t.inject('POST', '/api/v1/webhooks', { token: junior, body }), 403, 'forbidden');
  });

  it('audits every change and never puts a secret in the audit log or the delivery log', async () => {
    const audit = await t.inject('GET', '/api/v1/audit?limit=500', { token: sa });
    assert.equal(audit.status, 200, audit.text);
    for (const action of ['webhook.created', 'webhook.secret_rotated', 'webhook.test_sent'])
      assert.ok(audit.text.includes(action), action);
    for (const [path, secret] of secrets) {
      assert.ok(!audit.text.includes(secret), `secret of ${path} in the audit log`);
      assert.ok(!received.some((r) => r.body.includes(secret)), `secret of ${path} in a payload`);
    }
    const list = assertBody(await t.inject('GET', '/api/v1/webhooks', { token: sa }), 200, WebhookListSchema);
    for (const w of list.items) {
      const log = await t.inject('GET', `/api/v1/webhooks/${w.id}/deliveries`, { token: sa });
      for (const secret of secrets.values()) assert.ok(!log.text.includes(secret));
    }
  });

  it('removes an endpoint with its delivery log', async () => {
    const list = assertBody(await t.inject('GET', '/api/v1/webhooks', { token: sa }), 200, WebhookListSchema);
    const other = list.items.find((w) => w.url.endsWith('/other'));
    assert.ok(other);
    assert.equal((await t.inject('DELETE', `/api/v1/webhooks/${other.id}`, { token: sa })).status, 200);
    assertError(
      await t.inject('GET', `/api/v1/webhooks/${other.id}/deliveries`, { token: sa }),
      404,
      'not_found',
    );
  });
});
