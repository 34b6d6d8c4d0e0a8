import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Role } from '@enclave/protocol';
import type { Transport } from '@enclave/client';
import { type AppOptions, buildApp, type Services } from '../app.js';
import { type Enclave, openEnclave } from '../bootstrap.js';
import type { RouteSpec } from '../platform/http/route.js';

/** Which database the integration suite runs on: `ENCLAVE_TEST_DB=sqlite|postgres` (default sqlite). */
export const TEST_DB = (process.env.ENCLAVE_TEST_DB ?? 'sqlite') as 'sqlite' | 'postgres';
export const PG_ADMIN_URL = process.env.ENCLAVE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_KEK = 'test-kek-0123456789abcdefghijklmnopqrstuvwxyz';

/** A fresh, empty database for one test file: a temp SQLite file or a new PostgreSQL database. */
export async function freshDatabase(): Promise<{
  dataDir: string;
  dbUrl: string | undefined;
  drop(): Promise<void>;
}> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-test-'));
  if (TEST_DB !== 'postgres') {
    return {
      dataDir,
      dbUrl: undefined,
      drop: () => Promise.resolve(fs.rmSync(dataDir, { recursive: true, force: true })),
    };
  }
  const name = `enclave_t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    dataDir,
    dbUrl: url.toString(),
    async drop() {
      fs.rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface InjectOptions {
  token?: string;
  body?: unknown;
  payload?: string;
  headers?: Record<string, string>;
}

export interface TestEnclave {
  enclave: Enclave;
  app: FastifyInstance;
  routes: RouteSpec[];
  services: Services;
  dataDir: string;
  dbUrl: string | undefined;
  /** A client-SDK transport over `app.inject` (no port, no TLS). */
  transport: Transport;
  inject(
    method: string,
    url: string,
    opts?: InjectOptions,
  ): Promise<{ status: number; json: any; text: string; headers: Record<string, unknown> }>; // eslint-disable-line @typescript-eslint/no-explicit-any -- test bodies are asserted field by field
  /** Creates an administrator with `role` and returns a bearer token for it. */
  adminToken(role: Role, email?: string): Promise<string>;
  close(): Promise<void>;
}

const PASSWORD = 'correct horse battery staple';

/** Opens a complete in-process server on a fresh database. */
export async function testEnclave(
  opts: {
    deviceLimit?: number;
    attachmentLimitBytes?: number;
    webhooks?: AppOptions['webhooks'];
    approvals?: AppOptions['approvals'];
    consoleDir?: AppOptions['consoleDir'];
  } = {},
): Promise<TestEnclave> {
  const db = await freshDatabase();
  const enclave = await openEnclave({
    dataDir: db.dataDir,
    dbUrl: db.dbUrl,
    organization: 'Acme Test',
    env: { ENCLAVE_KEK: TEST_KEK },
  });
  const { app, routes, services } = await buildApp(enclave, {
    publicUrl: 'https://127.0.0.1:8443',
    deviceLimit: opts.deviceLimit ?? 5,
    ...(opts.attachmentLimitBytes ? { attachmentLimitBytes: opts.attachmentLimitBytes } : {}),
    ...(opts.webhooks ? { webhooks: opts.webhooks } : {}),
    ...(opts.approvals ? { approvals: opts.approvals } : {}),
    ...(opts.consoleDir !== undefined ? { consoleDir: opts.consoleDir } : {}),
  });
  await app.ready();
  const inject: TestEnclave['inject'] = async (method, url, o = {}) => {
    const headers: Record<string, string> = { ...o.headers };
    if (o.token) headers.authorization = `Bearer ${o.token}`;
    let payload: string | undefined = o.payload;
    if (o.body !== undefined) {
      payload = JSON.stringify(o.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await app.inject({
      method: method as 'GET',
      url,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    let json: unknown;
    try {
      json = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, json, text: res.body, headers: res.headers };
  };
  const transport: Transport = async (req) => {
    const headers: Record<string, string> = { ...req.headers };
    let payload: string | NodeJS.ReadableStream | undefined;
    if (req.bodyStream) {
      payload = req.bodyStream;
      headers['content-type'] = 'application/octet-stream';
    } else if (req.rawBody !== undefined) {
      payload = req.rawBody;
      headers['content-type'] = req.contentType ?? 'text/plain';
    } else if (req.body !== undefined) {
      payload = JSON.stringify(req.body);
      headers['content-type'] = 'application/json';
    }
    const res = await app.inject({
      method: req.method,
      url: req.path,
      headers,
      ...(payload !== undefined ? { payload } : {}),
    });
    if (req.sink && res.statusCode < 400) {
      const sink = req.sink;
      await new Promise<void>((resolve, reject) => {
        sink.on('error', reject);
        sink.end(res.rawPayload, (err?: Error | null) => (err ? reject(err) : resolve()));
      });
    }
    const out: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(res.headers))
      out[k] = Array.isArray(v) ? v.join(', ') : v === undefined ? undefined : String(v);
    return { status: res.statusCode, headers: out, text: res.body };
  };
  let n = 0;
  const adminToken = async (role: Role, email?: string) => {
    const addr = email ?? `${role}-${n++}-${randomBytes(3).toString('hex')}@example.com`;
    await services.admins.create({ email: addr, role, password: PASSWORD }, null, null);
    const res = await inject('POST', '/api/v1/auth/login', { body: { email: addr, password: PASSWORD } });
    if (res.status !== 200) throw new Error(`login failed for ${addr}: ${res.text}`);
    return res.json.token as string;
  };
  return {
    enclave,
    app,
    routes,
    services,
    dataDir: db.dataDir,
    dbUrl: db.dbUrl,
    transport,
    inject,
    adminToken,
    async close() {
      await app.close();
      await enclave.close();
      await db.drop();
    },
  };
}

export const ADMIN_PASSWORD = PASSWORD;
