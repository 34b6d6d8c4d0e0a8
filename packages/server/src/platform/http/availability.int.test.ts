import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { buildApp } from '../../app.js';
import { assertError } from '../../test-support/expect.js';
import { testEnclave, type TestEnclave } from '../../test-support/harness.js';
import { type Bus, type BusHealth, InProcessBus } from '../bus/bus.js';
import { isDatabaseUnavailable, openDatabase } from '../db/database.js';

// Readiness and the behaviour of a node whose database or bus is away: 503 with a stable code,
// fast, never a 500 or a hang.

/** A port nothing listens on (PostgreSQL "down"). */
async function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The in-process bus with a link whose health the test sets. */
class FlakyBus extends InProcessBus implements Bus {
  state: BusHealth = { status: 'up' };
  override health(): BusHealth {
    return this.state;
  }
}

let t: TestEnclave;
before(async () => {
  t = await testEnclave();
});
after(() => t.close());

describe('readiness and unavailable dependencies', () => {
  it('/readyz: 200 with every dependency up', async () => {
    const res = await t.inject('GET', '/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { ok: true, database: 'up', bus: 'up' });
  });

  it('/readyz: 503 naming the bus while it is down, 200 again when it is back; liveness stays 200', async () => {
    const bus = new FlakyBus();
    const { app } = await buildApp(t.enclave, { publicUrl: 'https://127.0.0.1:8443', bus });
    try {
      bus.state = { status: 'down', detail: 'nats: disconnected, reconnecting' };
      const down = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(down.statusCode, 503);
      const body = down.json<{ ok: boolean; database: string; bus: string; error: { code: string } }>();
      assert.equal(body.ok, false);
      assert.equal(body.database, 'up');
      assert.equal(body.bus, 'down');
      assert.equal(body.error.code, 'service_unavailable');
      assert.equal((await app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
      bus.state = { status: 'up' };
      const up = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(up.statusCode, 200);
      assert.deepEqual(up.json(), { ok: true, database: 'up', bus: 'up' });
    } finally {
      await app.close();
    }
  });

  it('PostgreSQL unreachable: 503 database_unavailable within seconds, and /readyz says database down', async () => {
    const token = await t.adminToken('security-admin');
    const port = await closedPort();
    const handle = openDatabase({
      dataDir: t.dataDir,
      dbUrl: `postgres://postgres@127.0.0.1:${port}/enclave`,
    });
    const { app } = await buildApp({ ...t.enclave, handle }, { publicUrl: 'https://127.0.0.1:8443' });
    try {
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.deepEqual(
        { ...ready.json<Record<string, unknown>>(), error: undefined },
        { ok: false, database: 'down', bus: 'up', error: undefined },
      );
      for (const url of ['/api/v1/users', '/api/v1/devices']) {
        const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });
        const err = assertError(
          { status: res.statusCode, json: res.json(), text: res.body },
          503,
          'database_unavailable',
        );
        assert.doesNotMatch(err.message, /127\.0\.0\.1|postgres/);
        assert.equal(res.headers['retry-after'], '5');
      }
      // A login (no session yet) fails the same way rather than as wrong credentials.
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { email: 'a@example.com', password: 'whatever it is' },
      });
      assertError(
        { status: login.statusCode, json: login.json(), text: login.body },
        503,
        'database_unavailable',
      );
    } finally {
      await app.close();
      await handle.close();
    }
  });

  it('tells an unreachable database from a faulty query', () => {
    for (const e of [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('the database system is starting up'), { code: '57P03' }),
      Object.assign(new Error('x'), { code: '08006' }),
      new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })]),
    ])
      assert.equal(isDatabaseUnavailable(e), true, e.message);
    for (const e of [
      Object.assign(new Error('duplicate key'), { code: '23505' }),
      Object.assign(new Error('syntax error'), { code: '42601' }),
      new Error('something else'),
      null,
      'ECONNREFUSED',
    ])
      assert.equal(isDatabaseUnavailable(e), false, String(e));
  });
});
