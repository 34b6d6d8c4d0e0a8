import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Paths that are never the console: the API and the operations endpoints answer their own 404. */
const NOT_CONSOLE = /^\/(api(\/|$)|healthz$|readyz$|metrics$)/;

/**
 * Headers of every console response. Vite emits scripts and styles as files, so nothing inline is
 * allowed; QR codes are `data:` images; the API and the stream are same-origin (`'self'`).
 */
const CONSOLE_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};

/** Where the built console is: `packages/console/dist/web`, found through the workspace or next to this package. */
export function defaultConsoleDir(): string {
  try {
    const pkg = createRequire(import.meta.url).resolve('@enclave/console/package.json');
    return path.join(path.dirname(pkg), 'dist', 'web');
  } catch {
    // dist/platform/http/console.js → packages/console/dist/web
    return fileURLToPath(new URL('../../../../console/dist/web', import.meta.url));
  }
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Enclave</title></head>
<body><main><h1>Enclave</h1>
<p>The web console is not built. Build it with <code>npm run build -w @enclave/console</code>
(or <code>npm run build</code> at the repository root) and reload this page.</p>
<p>The API at <code>/api/v1/</code> works without it.</p></main></body></html>
`;

function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((t) => t.trim().split(';')[0] === 'text/html');
}

/**
 * Serves the console's single-page app from `dir`: hashed assets cacheable for a year, every other
 * GET that accepts HTML gets `index.html` (client-side routing), never cached. Without a build,
 * HTML requests get a page that says how to build it; the API is not affected either way.
 */
export async function registerConsole(app: FastifyInstance, dir: string): Promise<void> {
  const root = path.resolve(dir);
  await app.register(fastifyStatic, { root, serve: false, cacheControl: false, etag: true });
  const send = (reply: FastifyReply, file: string, cache: string) => {
    for (const [k, v] of Object.entries(CONSOLE_HEADERS)) reply.header(k, v);
    reply.header('cache-control', cache);
    return reply.sendFile(file, root);
  };
  app.get('/*', (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (NOT_CONSOLE.test(pathname)) return reply.callNotFound();
    const built = fs.existsSync(path.join(root, 'index.html'));
    let rel: string;
    try {
      rel = path.posix.normalize(decodeURIComponent(pathname)).replace(/^\/+/, '');
    } catch {
      return reply.callNotFound();
    }
    if (built && rel && !rel.includes('\0') && !rel.split('/').includes('..') && rel !== 'index.html') {
      const file = path.join(root, rel);
      if (file.startsWith(root + path.sep) && fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
        const immutable = rel.startsWith('assets/');
        return send(reply, rel, immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      }
    }
    // `/` is the console whatever the client accepts (curl, monitors); deeper paths only for browsers.
    if (pathname !== '/' && !wantsHtml(request.headers.accept)) return reply.callNotFound();
    if (!built) {
      for (const [k, v] of Object.entries(CONSOLE_HEADERS)) reply.header(k, v);
      return reply
        .code(pathname === '/' ? 200 : 404)
        .header('cache-control', 'no-store')
        .type('text/html; charset=utf-8')
        .send(NOT_BUILT);
    }
    return send(reply, 'index.html', 'no-store');
  });
}
