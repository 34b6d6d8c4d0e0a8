import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Where scrape-time gauges read their values; the app wiring fills these in. */
export interface MetricSources {
  connectedDevices?: () => number;
  /** Undelivered deliveries across all devices (one COUNT query per scrape). */
  queueDepth?: () => Promise<number>;
}

/**
 * The Prometheus metrics of one server node. Each app owns its own registry (tests build many apps
 * in one process), fed by bus subscriptions and a few hooks in the app wiring.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly sources: MetricSources = {};
  readonly messagesAccepted: Counter;
  readonly deliveriesAcked: Counter;
  readonly commands: Counter<'type' | 'state'>;
  readonly commandDuration: Histogram<'type' | 'state'>;
  readonly activations: Counter<'outcome'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const sources = this.sources;
    new Gauge({
      name: 'enclave_connected_devices',
      help: 'Devices with an open stream on this node',
      registers,
      collect() {
        this.set(sources.connectedDevices?.() ?? 0);
      },
    });
    new Gauge({
      name: 'enclave_queue_depth',
      help: 'Deliveries waiting to be acknowledged, across all devices',
      registers,
      aggregator: 'max', // every worker counts the same table: across workers, not a sum
      async collect() {
        if (sources.queueDepth) this.set(await sources.queueDepth());
      },
    });
    this.messagesAccepted = new Counter({
      name: 'enclave_messages_accepted_total',
      help: 'Messages accepted for delivery (duplicates not counted)',
      registers,
    });
    this.deliveriesAcked = new Counter({
      name: 'enclave_deliveries_acked_total',
      help: 'Deliveries acknowledged by devices',
      registers,
    });
    this.commands = new Counter({
      name: 'enclave_commands_total',
      help: 'Device command state changes after creation (delivered, acknowledged, done, failed, expired), by type',
      labelNames: ['type', 'state'],
      registers,
    });
    this.commandDuration = new Histogram({
      name: 'enclave_command_duration_seconds',
      help: 'Time from a command being created to it being done or failed',
      labelNames: ['type', 'state'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1800, 3600, 21_600, 86_400],
      registers,
    });
    this.activations = new Counter({
      name: 'enclave_activations_total',
      help: 'Device activations completed (outcome=success) or refused (outcome=error code)',
      labelNames: ['outcome'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'enclave_http_request_duration_seconds',
      help: 'HTTP request duration by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /** The exposition text (Prometheus text format). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface MetricsListener {
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * A plain-HTTP listener that answers `GET /metrics` and nothing else. It carries no authentication:
 * bind it to loopback, or keep it behind a firewall that only the Prometheus server passes.
 */
export async function startMetricsListener(
  metrics: Pick<Metrics, 'text' | 'contentType'>,
  listen: { host: string; port: number },
  onError: (err: unknown) => void = () => undefined,
): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    metrics.text().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        onError(err);
        res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  return {
    host: addr.address,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
