import type { ComplianceService } from './compliance.service.js';
import type { JobLeaseRepository } from './job-lease.repository.js';

export const COMPLIANCE_JOB = 'compliance.evaluate';
export const COMPLIANCE_INTERVAL_MS = 60_000;

/**
 * The scheduled compliance sweep (out-of-contact detection, grace periods running out). Every node
 * ticks, but only the node that wins the database lease for the interval evaluates.
 */
export class ComplianceJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly leases: JobLeaseRepository,
    private readonly compliance: ComplianceService,
    private readonly holder: string = crypto.randomUUID(),
    private readonly intervalMs = COMPLIANCE_INTERVAL_MS,
  ) {}

  /** One tick: true if this node held the lease and evaluated every active device. */
  async runOnce(now = new Date()): Promise<boolean> {
    if (!(await this.leases.acquire(COMPLIANCE_JOB, this.holder, now, this.intervalMs))) return false;
    await this.compliance.evaluateUsers('all', now);
    return true;
  }

  start(onError: (err: unknown) => void = () => undefined): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.running = this.runOnce().catch(onError);
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops ticking and waits for the sweep in flight. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
