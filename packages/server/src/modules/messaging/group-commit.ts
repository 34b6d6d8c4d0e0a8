import { isDatabaseUnavailable } from '../../platform/db/database.js';

/**
 * Group commit: requests that arrive while a batch is being written are collected and written
 * together by the next batch, in one transaction, so the per-transaction cost (BEGIN/COMMIT, a
 * PostgreSQL round trip and fsync) is paid once per batch instead of once per request. Each caller's
 * promise settles only after the batch holding its request has committed, so nothing is acknowledged
 * before it is stored. Requests are written in arrival order, one batch at a time.
 *
 * `write` gets the batch and answers one result per request, in order: a value, or an Error for a
 * request that is refused on its own (it must then write nothing for that request). If `write`
 * throws, the transaction is rolled back and every request of the batch is retried alone, so one
 * request cannot fail the others — unless the database is unreachable: then they all fail at once.
 */
export class GroupCommit<I, O> {
  private queue: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(
    private readonly write: (inputs: I[]) => Promise<(O | Error)[]>,
    private readonly opts: { maxBatch?: number; delayMs?: number } = {},
  ) {}

  submit(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      // Idle: start after `delayMs` (0: the next turn of the event loop), so that requests
      // arriving meanwhile share the batch.
      if (!this.running) {
        this.running = true;
        if (this.opts.delayMs) setTimeout(() => void this.drain(), this.opts.delayMs);
        else setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length) {
        const batch = this.queue.splice(0, this.opts.maxBatch ?? 256);
        let results: (O | Error)[];
        try {
          results = await this.write(batch.map((b) => b.input));
        } catch (err) {
          if (batch.length === 1 || isDatabaseUnavailable(err)) {
            for (const b of batch) b.reject(err);
            continue;
          }
          results = [];
          for (const b of batch) {
            try {
              const [r] = await this.write([b.input]);
              results.push(r as O | Error);
            } catch (e) {
              results.push(e instanceof Error ? e : new Error(String(e)));
            }
          }
        }
        batch.forEach((b, i) => {
          const r = results[i];
          if (r instanceof Error) b.reject(r);
          else b.resolve(r as O);
        });
      }
    } finally {
      this.running = false;
    }
  }
}
