import type {} from '@fastify/websocket'; // adds the `websocket` route option to Fastify's types
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { isDatabaseUnavailable } from '../../platform/db/database.js';
import { ClientFrameSchema, type DevicePrincipalLike } from './types.js';
import { CLOSE, type StreamHub } from './stream.hub.js';

const AUTH_TIMEOUT_MS = 5_000;

/** Closes a stream whose device could not be authenticated, saying why in the close code. */
function refuse(socket: WebSocket, err: unknown): void {
  if (isDatabaseUnavailable(err)) {
    socket.close(CLOSE.unavailable, 'database_unavailable'); // not the device's fault: it retries
    return;
  }
  const code = (err as { code?: unknown } | null)?.code;
  socket.close(
    code === 'device_revoked' ? CLOSE.revoked : CLOSE.unauthenticated,
    typeof code === 'string' ? code.slice(0, 100) : 'unauthenticated',
  );
}

/**
 * Lets go of the upgrade's HTTP request and response once the WebSocket is open. @fastify/websocket
 * leaves them reachable from the socket for as long as it stays open — the response through the
 * TCP socket's `_httpMessage` (it calls `assignSocket`), the request, reply and their logger child
 * through its 'error' listener — which is several KiB of heap per idle device. Its listener is
 * replaced by one that does what its default error handler did (log, terminate) without them.
 */
function releaseUpgrade(app: FastifyInstance, socket: WebSocket, request: FastifyRequest): void {
  const raw = request.raw.socket as (Socket & { _httpMessage?: ServerResponse | null }) | null;
  const res = raw?._httpMessage;
  if (raw && res && typeof res.detachSocket === 'function') res.detachSocket(raw);
  socket.removeAllListeners('error');
  const reqId = request.id;
  socket.on('error', (err) => {
    app.log.error({ err, reqId }, 'stream socket error');
    socket.terminate();
  });
}

/**
 * `GET /api/v1/stream` (WebSocket). The device token comes in the Authorization header, or — for
 * browsers, which cannot set headers on a WebSocket — in a first `auth` frame within 5 s.
 * `?after=SEQ` resumes after the last delivery the device has processed.
 */
export function registerStream(
  app: FastifyInstance,
  hub: StreamHub,
  authenticate: (req: FastifyRequest) => Promise<DevicePrincipalLike>,
): void {
  app.get('/api/v1/stream', { websocket: true }, (socket: WebSocket, request: FastifyRequest) => {
    releaseUpgrade(app, socket, request);
    const afterRaw = (request.query as Record<string, unknown>).after;
    const after = typeof afterRaw === 'string' && /^\d{1,15}$/.test(afterRaw) ? Number(afterRaw) : 0;
    const start = (device: DevicePrincipalLike) => hub.attach(socket, device, after);
    if (request.headers.authorization) {
      authenticate(request).then(start, (err: unknown) => refuse(socket, err));
      return;
    }
    const timer = setTimeout(() => socket.close(CLOSE.unauthenticated, 'auth_timeout'), AUTH_TIMEOUT_MS);
    socket.once('message', (data) => {
      clearTimeout(timer);
      let token: string | undefined;
      try {
        const f = ClientFrameSchema.parse(JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : ''));
        if (f.type === 'auth') token = f.token;
      } catch {
        token = undefined;
      }
      if (!token) {
        socket.close(CLOSE.unauthenticated, 'first frame must be auth');
        return;
      }
      const fake = {
        ...request,
        headers: { ...request.headers, authorization: `Bearer ${token}` },
      } as FastifyRequest;
      authenticate(fake).then(start, (err: unknown) => refuse(socket, err));
    });
  });
}
