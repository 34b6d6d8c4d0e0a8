import { WEBHOOK_TEST_EVENT } from '@enclave/protocol';
import type { SecretBox } from '../../platform/keystore/keystore.js';
import { secretContext, webhookSignature } from './signature.js';
import type { DeliveryRow, WebhookRepository } from './webhook.repository.js';

/** Delivery timing; tests shorten every value. */
export interface WebhookDispatchOptions {
  /** Wait before each retry; attempts = retries + 1. Default 5 s, 30 s, 2 min, 10 min, 1 h (6 attempts). */
  retryDelaysMs?: readonly number[];
  /** How long one POST may take (default 10 s). */
  timeoutMs?: number;
  /** How often the queue is polled for due retries (default 1 s); new events are sent at once. */
  pollIntervalMs?: number;
  /** Deliveries sent in parallel per round (default 20). */
  batchSize?: number;
}

export const DEFAULT_RETRY_DELAYS_MS = [5_000, 30_000, 120_000, 600_000, 3_600_000] as const;

interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * Sends queued deliveries: POSTs the stored body with a fresh timestamp and signature on each
 * attempt, records the attempt, and schedules the next retry (exponential backoff) until a 2xx
 * answer or the last attempt. Every node may run one: a delivery is claimed before it is sent.
 */
export class WebhookDispatcher {
  private readonly retryDelaysMs: readonly number[];
  private readonly timeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly batchSize: number;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private log: Logger = { warn: () => undefined };

  constructor(
    private readonly repo: WebhookRepository,
    private readonly secrets: SecretBox,
    opts: WebhookDispatchOptions = {},
  ) {
    this.retryDelaysMs = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 1_000;
    this.batchSize = opts.batchSize ?? 20;
  }

  get maxAttempts(): number {
    return this.retryDelaysMs.length + 1;
  }

  /** Starts polling; `log` gets a warning for each delivery that failed for good (never its secret). */
  start(log?: Logger): void {
    if (log) this.log = log;
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.kick(), this.pollIntervalMs);
    this.timer.unref(); // the poll alone never keeps the process alive
    this.kick();
  }

  /** Stops polling and waits for the round in flight, so the database can close after it. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** Runs a round now (or right after the one in flight). */
  kick(): void {
    if (this.stopped) return;
    if (this.current) {
      this.again = true;
      return;
    }
    this.current = this.rounds()
      .catch((err: unknown) => this.log.warn({ err: describe(err) }, 'webhook dispatch round failed'))
      .finally(() => {
        this.current = undefined;
      });
  }

  private async rounds(): Promise<void> {
    do {
      this.again = false;
      const due = await this.repo.due(new Date().toISOString(), this.batchSize);
      await Promise.all(due.map((d) => this.attempt(d)));
      if (due.length === this.batchSize) this.again = true;
    } while (this.again && !this.stopped);
  }

  private async attempt(d: DeliveryRow): Promise<void> {
    if (d.next_attempt_at === null) return;
    const leaseUntil = new Date(Date.now() + this.timeoutMs + 30_000).toISOString();
    if (!(await this.repo.claim(d.id, d.next_attempt_at, leaseUntil))) return; // another node has it
    const hook = await this.repo.byId(d.webhook_id);
    if (!hook) return; // deleted meanwhile; the delivery went with it
    const started = Date.now();
    let statusCode: number | null = null;
    let error: string | null = null;
    if (hook.enabled !== 1 && d.event_type !== WEBHOOK_TEST_EVENT) {
      error = 'the endpoint was disabled before delivery';
    } else {
      const secret = this.secrets.open(hook.secret_sealed, secretContext(hook.id));
      const timestamp = String(Math.floor(started / 1000));
      try {
        const res = await fetch(hook.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Enclave-Webhooks/1', // the payload and signature scheme version
            'x-enclave-event': d.event_type,
            'x-enclave-delivery': d.id,
            'x-enclave-timestamp': timestamp,
            'x-enclave-signature': webhookSignature(secret, timestamp, d.payload),
          },
          body: d.payload,
          redirect: 'manual', // a redirect is an answer, not an invitation to POST elsewhere
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        statusCode = res.status;
        await res.body?.cancel().catch(() => undefined);
        if (res.status < 200 || res.status > 299) error = `the endpoint answered HTTP ${res.status}`;
      } catch (err) {
        error = describeFetchError(err, this.timeoutMs);
      }
    }
    const at = new Date().toISOString();
    const attempts = Number(d.attempts) + 1;
    const delivered = error === null;
    const retryIn = this.retryDelaysMs[attempts - 1];
    const giveUp =
      !delivered && (retryIn === undefined || (hook.enabled !== 1 && d.event_type !== WEBHOOK_TEST_EVENT));
    await this.repo.recordAttempt(
      d.id,
      { delivery_id: d.id, at, status_code: statusCode, error, duration_ms: Date.now() - started },
      {
        status: delivered ? 'delivered' : giveUp ? 'failed' : 'pending',
        attempts,
        next_attempt_at: delivered || giveUp ? null : new Date(Date.now() + (retryIn ?? 0)).toISOString(),
        last_status_code: statusCode,
        last_error: error,
        updated_at: at,
        delivered_at: delivered ? at : null,
      },
    );
    if (giveUp)
      this.log.warn(
        { webhookId: hook.id, deliveryId: d.id, event: d.event_type, attempts, error },
        'webhook delivery failed for good',
      );
  }
}

/** A short reason for the delivery log; fetch errors carry no request headers, so no secret. */
function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause =
    err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code) return `connection failed: ${cause.code}`;
  return `request failed: ${describe(cause ?? err)}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
