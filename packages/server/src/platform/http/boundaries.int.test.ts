import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { UserPageSchema } from '@enclave/protocol';
import { assertBody, assertClientError, assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const TEN_MB = 10 * 1024 * 1024;

describe('HTTP boundaries', () => {
  let t: TestEnclave;
  let token: string;
  const usersMatching = async (q: string) =>
    assertBody(
      await t.inject('GET', `/api/v1/users?q=${encodeURIComponent(q)}`, { token }),
      200,
      UserPageSchema,
    ).total;

  before(async () => {
    t = await testEnclave();
    token = await t.adminToken('security-admin');
  });
  after(() => t.close());

  describe('POST /api/v1/users', () => {
    it('rejects malformed JSON with 400 invalid_json', async () => {
      assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          payload: '{"email":"a@example.com",',
          headers: JSON_TYPE,
        }),
        400,
        'invalid_json',
      );
    });

    it('rejects an empty JSON body with 400 invalid_json', async () => {
      assertError(
        await t.inject('POST', '/api/v1/users', { token, payload: '', headers: JSON_TYPE }),
        400,
        'invalid_json',
      );
    });

    it('rejects fields of the wrong type with 400 validation_failed naming each path', async () => {
      const err = assertError(
        await t.inject('POST', '/api/v1/users', { token, body: { email: 42, name: ['Ann'] } }),
        400,
        'validation_failed',
      );
      const paths = (err.details ?? []).map((d) => d.path).sort();
      assert.deepEqual(paths, ['body.email', 'body.name']);
    });

    it('rejects a JSON array where an object is expected with 400 validation_failed', async () => {
      const err = assertError(
        await t.inject('POST', '/api/v1/users', { token, body: [] }),
        400,
        'validation_failed',
      );
      assert.ok(err.details?.some((d) => d.path === 'body'));
    });

    it('rejects unknown fields with 400 validation_failed naming the field, and creates nobody', async () => {
      const err = assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          body: { email: 'extra@example.com', name: 'Extra', isAdmin: true },
        }),
        400,
        'validation_failed',
      );
      assert.match(err.message, /isAdmin/);
      assert.ok(err.details?.some((d) => d.message.includes('isAdmin')));
      assert.equal(await usersMatching('extra@example.com'), 0);
    });

    it('rejects a __proto__ key with a 4xx, creates nobody and pollutes no prototype', async () => {
      const payload = '{"email":"proto@example.com","name":"Proto","__proto__":{"polluted":true}}';
      assertClientError(await t.inject('POST', '/api/v1/users', { token, payload, headers: JSON_TYPE }));
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      assert.equal(await usersMatching('proto@example.com'), 0);
    });

    it('rejects a constructor.prototype key with a 4xx and creates nobody', async () => {
      const payload =
        '{"email":"ctor@example.com","name":"Ctor","constructor":{"prototype":{"polluted":true}}}';
      assertClientError(await t.inject('POST', '/api/v1/users', { token, payload, headers: JSON_TYPE }));
      assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
      assert.equal(await usersMatching('ctor@example.com'), 0);
    });

    it('rejects a 10 MB body with 413 body_too_large', async () => {
      const payload = JSON.stringify({ email: 'big@example.com', name: 'x'.repeat(TEN_MB) });
      assertError(
        await t.inject('POST', '/api/v1/users', { token, payload, headers: JSON_TYPE }),
        413,
        'body_too_large',
      );
    });

    it('rejects a JSON body sent as text/plain with 415 unsupported_media_type, and creates nobody', async () => {
      const payload = JSON.stringify({ email: 'plain@example.com', name: 'Plain' });
      assertError(
        await t.inject('POST', '/api/v1/users', {
          token,
          payload,
          headers: { 'content-type': 'text/plain' },
        }),
        415,
        'unsupported_media_type',
      );
      assert.equal(await usersMatching('plain@example.com'), 0);
    });

    it('rejects a body with no content-type with 415 unsupported_media_type', async () => {
      const payload = JSON.stringify({ email: 'untyped@example.com', name: 'Untyped' });
      assertError(await t.inject('POST', '/api/v1/users', { token, payload }), 415, 'unsupported_media_type');
    });

    it('still accepts JSON with a charset parameter', async () => {
      const payload = JSON.stringify({ email: 'charset@example.com', name: 'Charset' });
      const res = await t.inject('POST', '/api/v1/users', {
        token,
        payload,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
      assert.equal(res.status, 201, res.text);
    });
  });

  describe('POST /api/v1/auth/login', () => {
    it('rejects a 10 MB body with 413 body_too_large before anyone signs in', async () => {
      const payload = JSON.stringify({ email: 'big@example.com', password: 'x'.repeat(TEN_MB) });
      assertError(
        await t.inject('POST', '/api/v1/auth/login', { payload, headers: JSON_TYPE }),
        413,
        'body_too_large',
      );
    });

    it('rejects malformed JSON with 400 invalid_json', async () => {
      assertError(
        await t.inject('POST', '/api/v1/auth/login', { payload: '{email:', headers: JSON_TYPE }),
        400,
        'invalid_json',
      );
    });

    it('rejects text/plain with 415 unsupported_media_type', async () => {
      const payload = JSON.stringify({ email: 'a@example.com', password: 'whatever' });
      assertError(
        await t.inject('POST', '/api/v1/auth/login', { payload, headers: { 'content-type': 'text/plain' } }),
        415,
        'unsupported_media_type',
      );
    });
  });

  describe('POST /api/v1/users/import', () => {
    it('rejects a 10 MB CSV with 413 body_too_large', async () => {
      const payload = `email,name,groups\n${'a'.repeat(TEN_MB)}\n`;
      assertError(
        await t.inject('POST', '/api/v1/users/import', {
          token,
          payload,
          headers: { 'content-type': 'text/csv' },
        }),
        413,
        'body_too_large',
      );
    });

    it('rejects JSON with 415 unsupported_media_type', async () => {
      assertError(
        await t.inject('POST', '/api/v1/users/import', {
          token,
          body: { email: 'json@example.com', name: 'Json' },
        }),
        415,
        'unsupported_media_type',
      );
    });
  });

  describe('routing and parameters', () => {
    it('answers an unknown route with 404 not_found', async () => {
      assertError(await t.inject('GET', '/api/v1/no-such-thing', { token }), 404, 'not_found');
      assertError(await t.inject('GET', '/api/v1/no-such-thing'), 404, 'not_found');
    });

    it('answers an unknown method on a known path with a 4xx error body', async () => {
      assertClientError(await t.inject('PUT', '/api/v1/users', { token, body: {} }));
    });

    it('rejects a malformed UUID in the path with 400 validation_failed on params.id', async () => {
      for (const url of [
        '/api/v1/users/not-a-uuid',
        '/api/v1/groups/1',
        `/api/v1/devices/${randomUUID().toUpperCase()}`,
        "/api/v1/users/'%20OR%201=1--",
      ]) {
        const err = assertError(await t.inject('GET', url, { token }), 400, 'validation_failed');
        assert.ok(
          err.details?.some((d) => d.path === 'params.id'),
          `${url}: ${JSON.stringify(err)}`,
        );
      }
    });

    it('answers a well-formed but unknown id with 404 not_found', async () => {
      assertError(await t.inject('GET', `/api/v1/users/${randomUUID()}`, { token }), 404, 'not_found');
    });

    it('rejects limit=100000 with 400 validation_failed on query.limit', async () => {
      const err = assertError(
        await t.inject('GET', '/api/v1/users?limit=100000', { token }),
        400,
        'validation_failed',
      );
      assert.ok(err.details?.some((d) => d.path === 'query.limit'));
    });

    it('rejects negative, fractional and non-numeric paging with 400 validation_failed', async () => {
      for (const qs of ['limit=0', 'limit=1.5', 'limit=ten', 'offset=-1', 'limit=1&limit=2']) {
        const err = assertError(
          await t.inject('GET', `/api/v1/users?${qs}`, { token }),
          400,
          'validation_failed',
        );
        assert.ok(
          err.details?.some((d) => d.path.startsWith('query.')),
          qs,
        );
      }
    });

    it('rejects an unknown query parameter with 400 validation_failed naming it', async () => {
      const err = assertError(
        await t.inject('GET', '/api/v1/users?sort=email', { token }),
        400,
        'validation_failed',
      );
      assert.match(err.message, /sort/);
    });

    it('rejects a body on a route that takes none with 400 validation_failed', async () => {
      assertError(
        await t.inject('POST', '/api/v1/auth/totp/enroll', { token, body: { secret: 'mine' } }),
        400,
        'validation_failed',
      );
    });
  });

  describe('GET /api/v1/openapi.json', () => {
    let doc: OpenApiDoc;

    before(async () => {
      const res = await t.inject('GET', '/api/v1/openapi.json');
      assert.equal(res.status, 200, res.text);
      doc = res.json as OpenApiDoc;
    });

    it('is an OpenAPI 3.1 document with info and components', () => {
      assert.match(doc.openapi, /^3\.1\.\d+$/);
      assert.equal(typeof doc.info.title, 'string');
      assert.equal(typeof doc.info.version, 'string');
      assert.ok(doc.info.version.length > 0);
      assert.equal(typeof doc.paths, 'object');
    });

    it('lists every route of the route table under its method', () => {
      const missing = t.routes
        .map((r) => ({ path: r.url.replace(/:(\w+)/g, '{$1}'), method: r.method.toLowerCase() }))
        .filter(({ path, method }) => !doc.paths[path]?.[method])
        .map(({ path, method }) => `${method} ${path}`);
      assert.deepEqual(missing, []);
      const documented = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
      assert.equal(documented, t.routes.length, 'the document lists operations that are not routes');
    });

    it('has well-formed operations: unique ids, responses, declared path parameters, known security schemes', () => {
      const problems: string[] = [];
      const ids = new Set<string>();
      const schemes = new Set(Object.keys(doc.components?.securitySchemes ?? {}));
      for (const [path, item] of Object.entries(doc.paths)) {
        if (!path.startsWith('/')) problems.push(`${path}: does not start with /`);
        const templated = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
        for (const [method, op] of Object.entries(item)) {
          const where = `${method} ${path}`;
          if (!['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method))
            problems.push(`${where}: not an HTTP method`);
          if (!op.operationId) problems.push(`${where}: no operationId`);
          else if (ids.has(op.operationId))
            problems.push(`${where}: duplicate operationId ${op.operationId}`);
          else ids.add(op.operationId);
          const responses = Object.entries(op.responses ?? {});
          if (responses.length === 0) problems.push(`${where}: no responses`);
          for (const [status, response] of responses) {
            if (!/^([1-5]\d\d|[1-5]XX|default)$/.test(status))
              problems.push(`${where}: response key ${status}`);
            if (typeof response.description !== 'string') problems.push(`${where} ${status}: no description`);
          }
          const params = op.parameters ?? [];
          for (const p of params) {
            if (!['path', 'query', 'header', 'cookie'].includes(p.in))
              problems.push(`${where}: parameter ${p.name} in ${p.in}`);
            if (p.in === 'path' && (p.required !== true || !templated.includes(p.name)))
              problems.push(`${where}: path parameter ${p.name} is not a required template`);
          }
          for (const name of templated) {
            if (!params.some((p) => p.in === 'path' && p.name === name))
              problems.push(`${where}: {${name}} is not declared`);
          }
          for (const requirement of op.security ?? []) {
            for (const scheme of Object.keys(requirement))
              if (!schemes.has(scheme)) problems.push(`${where}: unknown security scheme ${scheme}`);
          }
          if (op.requestBody && Object.keys(op.requestBody.content ?? {}).length === 0)
            problems.push(`${where}: requestBody without content`);
        }
      }
      assert.deepEqual(problems, []);
    });

    it('marks admin routes as needing a session and public routes as open', () => {
      for (const r of t.routes) {
        const op = doc.paths[r.url.replace(/:(\w+)/g, '{$1}')]?.[r.method.toLowerCase()];
        const names = (op?.security ?? []).flatMap((s) => Object.keys(s));
        if (r.auth === 'none') assert.deepEqual(names, [], `${r.method} ${r.url}`);
        if (r.auth === 'admin') assert.ok(names.includes('adminBearer'), `${r.method} ${r.url}`);
        if (r.auth === 'device') assert.ok(names.includes('deviceBearer'), `${r.method} ${r.url}`);
      }
    });
  });
});

interface OpenApiOperation {
  operationId?: string;
  security?: Record<string, unknown>[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { content?: Record<string, unknown> };
  responses?: Record<string, { description?: unknown }>;
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, OpenApiOperation>>;
  components?: { securitySchemes?: Record<string, unknown> };
}
