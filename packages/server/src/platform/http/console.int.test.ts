import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

const HTML = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/app-3f9a1c.js"></script></head></html>';

function assertConsoleHeaders(headers: Record<string, unknown>): void {
  const csp = String(headers['content-security-policy']);
  for (const directive of [
    "default-src 'self'",
    "img-src 'self' data:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
  ])
    assert.ok(csp.includes(directive), `CSP has ${directive}: ${csp}`);
  assert.ok(!csp.includes('unsafe-eval'));
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.equal(headers['referrer-policy'], 'no-referrer');
  assert.equal(headers['x-content-type-options'], 'nosniff');
}

describe('the web console', () => {
  let dir: string;
  let t: TestEnclave;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-console-'));
    fs.mkdirSync(path.join(dir, 'assets'));
    fs.writeFileSync(path.join(dir, 'index.html'), INDEX);
    fs.writeFileSync(path.join(dir, 'assets', 'app-3f9a1c.js'), 'console.log("enclave")');
    fs.writeFileSync(path.join(dir, 'assets', 'app-3f9a1c.css'), 'body{margin:0}');
    fs.writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    fs.writeFileSync(path.join(os.tmpdir(), 'enclave-console-secret.txt'), 'outside');
    t = await testEnclave({ consoleDir: dir });
  });
  after(async () => {
    await t.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves index.html at / with a strict CSP, never cached', async () => {
    const r = await t.inject('GET', '/', { headers: HTML });
    assert.equal(r.status, 200);
    assert.equal(r.text, INDEX);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assertConsoleHeaders(r.headers);
  });

  it('answers deep links of the single-page app with index.html', async () => {
    for (const url of ['/devices/42', '/self/devices', '/users?group=sales', '/index.html']) {
      const r = await t.inject('GET', url, { headers: HTML });
      assert.equal(r.status, 200, url);
      assert.equal(r.text, INDEX, url);
      assert.equal(r.headers['cache-control'], 'no-store');
    }
  });

  it('serves hashed assets as immutable for a year', async () => {
    const js = await t.inject('GET', '/assets/app-3f9a1c.js');
    assert.equal(js.status, 200);
    assert.equal(js.text, 'console.log("enclave")');
    assert.match(String(js.headers['content-type']), /javascript/);
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assertConsoleHeaders(js.headers);
    const css = await t.inject('GET', '/assets/app-3f9a1c.css');
    assert.match(String(css.headers['content-type']), /^text\/css/);
    const icon = await t.inject('GET', '/favicon.svg');
    assert.equal(icon.status, 200);
    assert.equal(icon.headers['cache-control'], 'no-cache');
  });

  it('answers a missing asset with a 404, not with the app', async () => {
    const r = await t.inject('GET', '/assets/app-000000.js', { headers: { accept: '*/*' } });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found');
  });

  it('never serves files outside its directory', async () => {
    for (const url of [
      '/../enclave-console-secret.txt',
      '/%2e%2e/enclave-console-secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fenclave-console-secret.txt',
      '/%00',
    ]) {
      const r = await t.inject('GET', url, { headers: { accept: '*/*' } });
      assert.equal(r.status, 404, url);
      assert.ok(!r.text.includes('outside'), url);
    }
  });

  it('serves the console at / to any client, deeper paths only to browsers', async () => {
    const root = await t.inject('GET', '/', { headers: { accept: '*/*' } });
    assert.equal(root.status, 200);
    assert.match(root.headers['content-type'] as string, /text\/html/);
    const deep = await t.inject('GET', '/devices/x', { headers: { accept: '*/*' } });
    assert.equal(deep.status, 404);
  });

  it('leaves the API and the operations endpoints alone', async () => {
    const unknown = await t.inject('GET', '/api/v1/nope', { headers: HTML });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'not_found');
    const health = await t.inject('GET', '/healthz', { headers: HTML });
    assert.deepEqual(health.json, { ok: true });
    assert.equal(health.headers['cache-control'], 'no-store');
    const info = await t.inject('GET', '/api/v1/info');
    assert.equal(info.status, 200);
    assert.equal(info.headers['cache-control'], 'no-store');
    assert.equal(info.headers['content-security-policy'], undefined);
    const post = await t.inject('POST', '/devices', { headers: HTML, body: {} });
    assert.equal(post.status, 404);
  });
});

describe('the web console, not built', () => {
  let t: TestEnclave;
  before(async () => {
    t = await testEnclave({ consoleDir: path.join(os.tmpdir(), 'enclave-no-console-here') });
  });
  after(() => t.close());

  it('says at / how to build it, and the API still works', async () => {
    const r = await t.inject('GET', '/', { headers: HTML });
    assert.equal(r.status, 200);
    assert.match(r.text, /console is not built/);
    assert.match(r.text, /npm run build/);
    assertConsoleHeaders(r.headers);
    assert.equal((await t.inject('GET', '/api/v1/info')).status, 200);
    assert.equal((await t.inject('GET', '/assets/app.js')).status, 404);
  });
});
