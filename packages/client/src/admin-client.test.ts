import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AdminClient } from './admin-client.js';
import { ApiError, type Transport, type TransportRequest } from './transport.js';

const now = '2025-01-01T00:00:00.000Z';
const admin = {
  id: '00000000-0000-4000-8000-000000000001',
  email: 'sec@example.com',
  role: 'security-admin',
  totpEnabled: false,
  createdAt: now,
};

function recorder(answer: (req: TransportRequest) => { status: number; body: unknown }): {
  transport: Transport;
  seen: TransportRequest[];
} {
  const seen: TransportRequest[] = [];
  return {
    seen,
    transport: (req) => {
      seen.push(req);
      const a = answer(req);
      return Promise.resolve({
        status: a.status,
        headers: {},
        text: typeof a.body === 'string' ? a.body : JSON.stringify(a.body),
      });
    },
  };
}

describe('AdminClient', () => {
  it('keeps the login token and sends it as a bearer token', async () => {
    const { transport, seen } = recorder((req) =>
      req.path === '/api/v1/auth/login'
        ? { status: 200, body: { token: 'tok-1', csrfToken: 'c', expiresAt: now, admin } }
        : { status: 200, body: admin },
    );
    const client = new AdminClient(transport);
    await client.login({ email: 'SEC@example.com', password: 'pw' });
    assert.equal((seen[0]?.body as { email: string }).email, 'sec@example.com'); // normalised by the protocol schema
    assert.equal(seen[0]?.headers?.authorization, undefined);
    await client.me();
    assert.equal(seen[1]?.headers?.authorization, 'Bearer tok-1');
  });

  it('builds list queries and encodes path ids', async () => {
    const { transport, seen } = recorder(() => ({
      status: 200,
      body: { items: [], total: 0, limit: 10, offset: 0 },
    }));
    const client = new AdminClient(transport, { token: 't' });
    await client.listUsers({ q: 'a b', group: 'Sales', limit: 10 });
    assert.equal(seen[0]?.path, '/api/v1/users?q=a+b&limit=10&offset=0&group=Sales');
    await assert.rejects(client.getUser('../admins'), ApiError); // shape mismatch → protocol_error
    assert.equal(seen[1]?.path, '/api/v1/users/..%2Fadmins');
  });

  it('surfaces the server error code', async () => {
    const { transport } = recorder(() => ({
      status: 403,
      body: { error: { code: 'forbidden', message: 'missing permission admins:manage' } },
    }));
    await assert.rejects(
      new AdminClient(transport, { token: 't' }).deleteAdmin(admin.id),
      (e: unknown) => e instanceof ApiError && e.code === 'forbidden' && e.status === 403,
    );
  });

  it('rejects bad input before sending it', async () => {
    const { transport, seen } = recorder(() => ({ status: 201, body: admin }));
    await assert.rejects(
      new AdminClient(transport).createAdmin({ email: 'x@example.com', role: 'auditor', password: 'short' }),
      (e: unknown) => e instanceof ApiError && e.code === 'validation_failed' && /password/.test(e.message),
    );
    assert.equal(seen.length, 0);
  });

  it('returns PEM text for the CRL and sends CSV raw for import', async () => {
    const { transport, seen } = recorder((req) =>
      req.path === '/api/v1/pki/crl'
        ? { status: 200, body: '-----BEGIN X509 CRL-----\n' }
        : { status: 200, body: { imported: 1, failed: 0, errors: [] } },
    );
    const client = new AdminClient(transport, { token: 't' });
    assert.match(await client.crlPem(), /X509 CRL/);
    const report = await client.importUsersCsv('email,name,groups\na@example.com,A,\n');
    assert.equal(report.imported, 1);
    assert.equal(seen[1]?.contentType, 'text/csv');
  });
});
