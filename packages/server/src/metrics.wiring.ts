import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { Services } from './app.js';
import type { Enclave } from './bootstrap.js';
import { AppError } from './platform/http/app-error.js';
import type { Metrics } from './platform/metrics/metrics.js';

const FINAL_COMMAND_STATES = new Set(['done', 'failed']);

/** Feeds the metrics registry from the bus and from a few service calls (modules stay unaware of it). */
export function wireServiceMetrics(metrics: Metrics, services: Services, enclave: Enclave): void {
  const db = enclave.handle.db;
  metrics.sources.queueDepth = async () => {
    const r = await sql<{ n: number | string }>`select count(*) as n from deliveries`.execute(db);
    return Number(r.rows[0]?.n ?? 0);
  };

  services.bus.subscribe('command.state_changed', async (e) => {
    metrics.commands.inc({ type: e.type, state: e.state });
    if (!FINAL_COMMAND_STATES.has(e.state)) return;
    const row = await db
      .selectFrom('device_commands')
      .select('created_at')
      .where('id', '=', e.commandId)
      .executeTakeFirst();
    if (!row) return;
    const seconds = (Date.now() - Date.parse(row.created_at)) / 1000;
    if (Number.isFinite(seconds) && seconds >= 0)
      metrics.commandDuration.observe({ type: e.type, state: e.state }, seconds);
  });

  const messaging = services.messaging;
  const send = messaging.send.bind(messaging);
  messaging.send = async (...args) => {
    const r = await send(...args);
    if (!r.duplicate) metrics.messagesAccepted.inc();
    return r;
  };
  const ack = messaging.ack.bind(messaging);
  messaging.ack = async (...args) => {
    const r = await ack(...args);
    if (r.acknowledged > 0) metrics.deliveriesAcked.inc(r.acknowledged);
    return r;
  };

  const activation = services.activation;
  const finish = activation.finish.bind(activation);
  activation.finish = async (...args) => {
    try {
      const r = await finish(...args);
      metrics.activations.inc({ outcome: 'success' });
      return r;
    } catch (err) {
      metrics.activations.inc({ outcome: err instanceof AppError ? err.code : 'error' });
      throw err;
    }
  };
}

/** Connected devices (from the stream hub, read at scrape time); HTTP latency by route pattern (never the raw URL). */
export function wireHttpMetrics(
  metrics: Metrics,
  app: FastifyInstance,
  connectedDevices: () => number,
): void {
  metrics.sources.connectedDevices = connectedDevices;
  app.addHook('onResponse', (request, reply, done) => {
    metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? '(unmatched)',
        status: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
