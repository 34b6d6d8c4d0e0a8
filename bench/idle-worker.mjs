// One load-generator process of the `idle` scenario: opens authenticated device streams from one
// source address with raw TLS and a hand-written WebSocket handshake (no SDK, no `ws`: a few hundred
// bytes per connection), answers the server's pings and otherwise stays silent.
// Protocol with the parent (IPC): ← {url, tokens, localAddress, concurrency, deadlineMs}
// → {progress: {connected, failed, error}} every 500 ms and once done; ← 'close' → exits.
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';

const sockets = [];
let connected = 0;
let failed = 0;
let dropped = 0; // closed by the server after it was ready
let consecutiveFailures = 0;
let lastError;
let session;

/** A pong for a ping payload (client frames are masked; a zero mask keeps the payload as is). */
function pong(payload) {
  const head = Buffer.from([0x8a, 0x80 | payload.length, 0, 0, 0, 0]);
  return Buffer.concat([head, payload]);
}

/** Parses whole server frames (unmasked) off `buf`; returns the rest. */
function frames(buf, onFrame) {
  for (;;) {
    if (buf.length < 2) return buf;
    let len = buf[1] & 0x7f;
    let off = 2;
    if (len === 126) {
      if (buf.length < 4) return buf;
      len = buf.readUInt16BE(2);
      off = 4;
    } else if (len === 127) {
      if (buf.length < 10) return buf;
      len = Number(buf.readBigUInt64BE(2));
      off = 10;
    }
    if (buf.length < off + len) return buf;
    onFrame(buf[0] & 0x0f, buf.subarray(off, off + len));
    buf = buf.subarray(off + len);
  }
}

function open(url, token, localAddress) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: u.hostname,
      port: Number(u.port),
      localAddress,
      rejectUnauthorized: false,
      ...(session ? { session } : {}),
    });
    s.once('session', (t) => {
      session = t; // TLS resumption: later handshakes skip the certificate signature
    });
    let state = 'handshake';
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('no ready frame in 30 s')), 30_000);
    const fail = (err) => {
      if (state === 'ready') {
        if (!s.dropped) dropped++;
        s.dropped = true;
        return;
      }
      state = 'failed';
      clearTimeout(timer);
      s.destroy();
      reject(err);
    };
    s.once('error', fail);
    s.once('close', () => fail(new Error('closed before ready')));
    s.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      if (state === 'handshake') {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const status = buf.subarray(0, buf.indexOf('\r\n')).toString();
        if (!status.startsWith('HTTP/1.1 101')) return fail(new Error(status));
        state = 'open';
        buf = buf.subarray(end + 4);
      }
      buf = frames(buf, (op, payload) => {
        if (op === 0x9) s.write(pong(payload));
        else if (op === 0x8) fail(new Error(`closed: ${payload.subarray(2).toString()}`));
        else if (op === 0x1 && state === 'open' && payload.includes('"ready"')) {
          state = 'ready';
          clearTimeout(timer);
          s.removeAllListeners('error');
          s.on('error', () => undefined);
          resolve(s);
        }
      });
      if (!buf.length) buf = Buffer.alloc(0);
    });
    s.write(
      `GET /api/v1/stream HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n` +
        `Authorization: Bearer ${token}\r\n\r\n`,
    );
  });
}

const report = () => process.send?.({ progress: { connected, failed, dropped, error: lastError } });

process.once('message', async ({ url, tokens, localAddress, concurrency, deadlineMs }) => {
  const ticker = setInterval(report, 500);
  const deadline = Date.now() + deadlineMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < tokens.length && Date.now() < deadline && consecutiveFailures < 100) {
        const token = tokens[next++];
        try {
          sockets.push(await open(url, token, localAddress));
          connected++;
          consecutiveFailures = 0;
        } catch (err) {
          failed++;
          consecutiveFailures++;
          lastError = err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  clearInterval(ticker);
  process.send?.({ progress: { connected, failed, dropped, error: lastError }, done: true });
  process.on('message', (m) => {
    if (m === 'report') report();
    if (m === 'close') {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }
  });
});
// The parent going away ends the generator too.
process.on('disconnect', () => process.exit(0));
