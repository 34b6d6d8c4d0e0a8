import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, TEST_KEK, type TestEnclave, testEnclave } from '../../test-support/harness.js';
import { blob, People, type TestDevice, waitFor } from '../../test-support/messaging-fixtures.js';
import { runServer } from '../../server.js';
import { startMetricsListener } from './metrics.js';

let t: TestEnclave;
let people: People;

before(async () => {
  t = await testEnclave();
  people = new People(t);
});
after(() => t.close());

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** The value of one series (labels matched exactly on the given ones), 0 when absent. */
async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = t.services.metrics.registry.getSingleMetric(name);
  assert.ok(metric, `metric ${name} is registered`);
  const { values } = await metric.get();
  const hit = values.find((v) =>
    Object.entries(labels).every(([k, want]) => String((v.labels as Record<string, unknown>)[k]) === want),
  );
  return hit?.value ?? 0;
}

describe('Prometheus metrics', () => {
  let alice: TestDevice;
  let bob: TestDevice;

  before(async () => {
    await people.user('m-alice@example.com');
    await people.user('m-bob@example.com');
    alice = await people.device('m-alice@example.com');
  });

  it('exposes every Enclave metric and the default process metrics', async () => {
    const text = await t.services.metrics.text();
    for (const name of [
      'enclave_connected_devices',
      'enclave_messages_accepted_total',
      'enclave_deliveries_acked_total',
      'enclave_queue_depth',
      'enclave_commands_total',
      'enclave_command_duration_seconds',
      'enclave_activations_total',
      'enclave_http_request_duration_seconds',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    assert.match(text, /^enclave_connected_devices 0$/m);
  });

  it('counts a successful activation and a refused one', async () => {
    const before = await value('enclave_activations_total', { outcome: 'success' });
    bob = await people.device('m-bob@example.com');
    assert.equal(await value('enclave_activations_total', { outcome: 'success' }), before + 1);
    const r = await t.inject('POST', '/api/v1/activation/finish', {
      body: { attemptId: crypto.randomUUID(), index: 0, finishLoginRequest: blob(), sealed: blob() },
    });
    assert.ok(r.status >= 400, r.text);
    const series = (await t.services.metrics.registry.getSingleMetric('enclave_activations_total')!.get())
      .values;
    const refused = series.filter((v) => v.labels.outcome !== 'success');
    assert.equal(refused.length, 1, JSON.stringify(series));
    assert.equal(refused[0]!.value, 1);
    assert.equal(refused[0]!.labels.outcome, r.json.error.code, 'counted under its stable error code');
  });

  it('counts accepted messages and acknowledged deliveries, and reports the queue depth at scrape time', async () => {
    const c = await t.inject('POST', '/api/v1/conversations', {
      token: alice.token,
      body: { memberEmails: ['m-bob@example.com'] },
    });
    assert.equal(c.status, 201, c.text);
    const id = c.json.conversation.id as string;
    const adds = (c.json.pending.adds as { deviceId: string }[]).map((a) => a.deviceId);
    const commit = await t.inject('POST', `/api/v1/conversations/${id}/commits`, {
      token: alice.token,
      body: { epoch: 0, commit: blob(), welcome: blob(), addedDeviceIds: adds },
    });
    assert.equal(commit.status, 201, commit.text);
    const epoch = commit.json.epoch as number;

    const accepted = await value('enclave_messages_accepted_total');
    const messageId = crypto.randomUUID();
    for (let i = 0; i < 2; i++) {
      // The second send is a retry of the same message: it is not counted twice.
      const r = await t.inject('POST', `/api/v1/conversations/${id}/messages`, {
        token: alice.token,
        body: { epoch, messageId, ciphertext: blob() },
      });
      assert.ok(r.status === 200 || r.status === 201, r.text);
    }
    assert.equal(await value('enclave_messages_accepted_total'), accepted + 1);

    await t.services.metrics.text(); // scrape: the gauge is computed now
    const depth = await value('enclave_queue_depth');
    assert.ok(depth >= 1, `queue depth ${depth}`);

    const acked = await value('enclave_deliveries_acked_total');
    const q = await t.inject('GET', '/api/v1/queue?after=0&limit=500', { token: bob.token });
    assert.equal(q.status, 200, q.text);
    const seqs = (q.json.items as { seq: number }[]).map((x) => x.seq);
    assert.ok(seqs.length >= 1);
    const a = await t.inject('POST', '/api/v1/queue/ack', { token: bob.token, body: { seqs } });
    assert.equal(a.status, 200, a.text);
    assert.equal(await value('enclave_deliveries_acked_total'), acked + seqs.length);
    await t.services.metrics.text();
    assert.equal(await value('enclave_queue_depth'), depth - seqs.length);
  });

  it('counts command state changes and observes the time from creation to done', async () => {
    const admin = await t.adminToken('security-admin', 'm-admin@example.com');
    const c = await t.inject('POST', `/api/v1/devices/${bob.deviceId}/commands`, {
      token: admin,
      body: { type: 'ping' },
    });
    assert.equal(c.status, 201, c.text);
    const commandId = (c.json.commandId ?? c.json.id) as string;
    const r = await t.inject('POST', `/api/v1/device/commands/${commandId}/ack`, {
      token: bob.token,
      body: { state: 'done' },
    });
    assert.equal(r.status, 200, r.text);
    await waitFor(() => value('enclave_commands_total', { type: 'ping', state: 'done' }), 3000, 'counter');
    const text = await waitFor(async () => {
      const s = await t.services.metrics.text();
      return /^enclave_command_duration_seconds_count\{type="ping",state="done"\} 1$/m.test(s) ? s : '';
    });
    assert.ok(text);
  });

  it('labels HTTP latency with the route pattern, never the raw URL', async () => {
    const admin = await t.adminToken('security-admin', 'm-admin2@example.com');
    const r = await t.inject('GET', `/api/v1/devices/${bob.deviceId}`, { token: admin });
    assert.equal(r.status, 200, r.text);
    const missing = await t.inject('GET', `/api/v1/nothing/${crypto.randomUUID()}`);
    assert.equal(missing.status, 404);
    const text = await t.services.metrics.text();
    assert.match(
      text,
      /^enclave_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/devices\/:id",status="200"\} \d+$/m,
    );
    assert.match(text, /route="\(unmatched\)",status="404"/);
    const httpLines = text.split('\n').filter((l) => l.startsWith('enclave_http_request_duration_seconds'));
    assert.ok(httpLines.length > 0);
    for (const line of httpLines) assert.doesNotMatch(line, UUID, line);
  });

  it('is not served on the main API port', async () => {
    const r = await t.inject('GET', '/metrics');
    assert.equal(r.status, 404);
  });
});

describe('metrics listener', () => {
  it('binds only the configured address and answers GET /metrics alone', async () => {
    const l = await startMetricsListener(t.services.metrics, { host: '127.0.0.1', port: 0 });
    try {
      assert.equal(l.host, '127.0.0.1');
      const ok = await fetch(`http://127.0.0.1:${l.port}/metrics`);
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await ok.text(), /^# TYPE enclave_connected_devices gauge$/m);
      const other = await fetch(`http://127.0.0.1:${l.port}/`);
      assert.equal(other.status, 404);
      await other.text();
      // Bound to 127.0.0.1 only: another loopback address does not answer.
      await assert.rejects(fetch(`http://127.0.0.2:${l.port}/metrics`));
    } finally {
      await l.close();
    }
  });

  it('enclave server opens it only when --metrics-listen is given', async () => {
    for (const metricsListen of [undefined, '127.0.0.1:0']) {
      const db = await freshDatabase();
      const lines: string[] = [];
      const s = await runServer(
        {
          dataDir: db.dataDir,
          ...(db.dbUrl ? { dbUrl: db.dbUrl } : {}),
          listen: '127.0.0.1:0',
          organization: 'Metrics Test',
          logLevel: 'silent',
          json: true,
          ...(metricsListen ? { metricsListen } : {}),
        },
        (l) => lines.push(l),
        { ENCLAVE_KEK: TEST_KEK },
      );
      try {
        const ready = JSON.parse(lines.at(-1) ?? '{}') as { metricsUrl?: string };
        if (!metricsListen) {
          assert.equal(s.metricsUrl, undefined);
          assert.equal(ready.metricsUrl, undefined);
        } else {
          assert.match(s.metricsUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
          assert.equal(ready.metricsUrl, s.metricsUrl);
          const r = await fetch(s.metricsUrl!);
          assert.equal(r.status, 200);
          assert.match(await r.text(), /^enclave_queue_depth 0$/m);
        }
      } finally {
        await s.close();
        await db.drop();
      }
    }
  });
});
