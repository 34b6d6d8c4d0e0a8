import {
  type Approval,
  type BulkCommandCreate,
  type BulkCommandResult,
  type CommandType,
  roleHasPermission,
} from '@enclave/protocol';
import { AppError, forbidden, notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import { type AuditService, SYSTEM } from '../audit/index.js';
import { type CommandGuard, commandPermission, type DeviceService } from '../devices/index.js';
import type { ApprovalRepository, ApprovalRow } from './approval.repository.js';
import { presentApproval } from './present.js';

/** Guardrail settings (server options; tests shorten the times). */
export interface ApprovalOptions {
  /** A command for more devices than this needs a second administrator (default 10). */
  bulkThreshold?: number;
  /** An undecided request expires after this (default 24 h). */
  ttlMs?: number;
  /** An approved request runs after this cancellable delay (default 60 s). */
  delayMs?: number;
  /** At most this many devices wiped per administrator per window (default 20 per hour). */
  wipeLimit?: number;
  wipeWindowMs?: number;
  /** The clock (tests inject one). */
  now?: () => number;
}

type GateRequest = Parameters<CommandGuard['gate']>[0];

/**
 * Two-person control for dangerous commands: a command for more devices than the threshold, or
 * any full wipe, becomes a request a second administrator (holding the command's permission and
 * `approvals:decide`) approves or denies; an approved one runs after a cancellable delay. Wipes
 * are rate-limited per administrator whether or not they need approval.
 */
export class ApprovalService implements CommandGuard {
  private readonly threshold: number;
  private readonly ttlMs: number;
  private readonly delayMs: number;
  private readonly wipeLimit: number;
  private readonly wipeWindowMs: number;
  private readonly now: () => number;

  constructor(
    private readonly repo: ApprovalRepository,
    private readonly devices: () => DeviceService,
    private readonly audit: AuditService,
    opts: ApprovalOptions = {},
  ) {
    this.threshold = opts.bulkThreshold ?? 10;
    this.ttlMs = opts.ttlMs ?? 24 * 3600_000;
    this.delayMs = opts.delayMs ?? 60_000;
    this.wipeLimit = opts.wipeLimit ?? 20;
    this.wipeWindowMs = opts.wipeWindowMs ?? 3600_000;
    this.now = opts.now ?? Date.now;
  }

  private iso(offsetMs = 0): string {
    return new Date(this.now() + offsetMs).toISOString();
  }

  /** See {@link CommandGuard}: the rate limit, then the two-person rule. */
  async gate(req: GateRequest): Promise<Approval | null> {
    const n = req.deviceIds.length;
    if (req.type === 'wipe' || req.type === 'wipe-work') {
      const used = await this.repo.wipesSince(req.by.adminId, this.iso(-this.wipeWindowMs));
      if (used + n > this.wipeLimit) {
        await this.audit.record({
          actor: actorOf(req.by),
          action: 'command.rate_limited',
          outcome: 'failure',
          details: { type: req.type, devices: n, alreadyThisWindow: used, limit: this.wipeLimit },
          ip: req.ip,
        });
        const minutes = Math.round(this.wipeWindowMs / 60_000);
        throw new AppError(
          429,
          'rate_limited',
          `wipe rate limit: an administrator may wipe at most ${this.wipeLimit} devices per ${minutes} minutes; ` +
            `you have ${used} in this window and asked for ${n} more`,
        );
      }
    }
    const guardrail = req.type === 'wipe' ? 'full_wipe' : n > this.threshold ? 'over_threshold' : null;
    if (!guardrail) return null;
    const row: ApprovalRow = {
      id: crypto.randomUUID(),
      state: 'pending_approval',
      type: req.type,
      target: JSON.stringify(req.target),
      device_ids: JSON.stringify(req.deviceIds),
      message: req.message ?? null,
      reason: req.reason ?? null,
      guardrail,
      requested_by: req.by.adminId,
      requested_by_email: req.by.email,
      requested_by_role: req.by.role,
      decided_by: null,
      decided_by_email: null,
      decision_reason: null,
      created_at: this.iso(),
      expires_at: this.iso(this.ttlMs),
      decided_at: null,
      run_after: null,
      executed_at: null,
      command_ids: '[]',
    };
    await this.repo.insert(row);
    await this.audit.record({
      actor: actorOf(req.by),
      action: 'approval.requested',
      target: row.id,
      details: { type: req.type, devices: n, guardrail, ...(req.reason ? { reason: req.reason } : {}) },
      ip: req.ip,
    });
    return presentApproval(row);
  }

  /** `POST /api/v1/commands`: resolves the active target devices, then sends or holds the command. */
  async bulk(body: BulkCommandCreate, by: AdminPrincipal, ip: string): Promise<BulkCommandResult> {
    const needed = commandPermission(body.type);
    if (!roleHasPermission(by.role, needed))
      throw forbidden(`the ${by.role} role does not have the ${needed} permission`);
    let deviceIds: string[] | null;
    let target: GateRequest['target'];
    if (body.deviceIds) {
      deviceIds = await this.repo.activeByIds([...new Set(body.deviceIds)]);
      target = { deviceIds: body.deviceIds };
    } else if (body.userEmail) {
      deviceIds = await this.repo.activeByUserEmail(body.userEmail);
      if (!deviceIds) throw new AppError(404, 'user_not_found', `no user ${body.userEmail}`);
      target = { userEmail: body.userEmail };
    } else {
      const name = body.groupName ?? '';
      deviceIds = await this.repo.activeByGroupName(name);
      if (!deviceIds) throw new AppError(404, 'group_not_found', `no group named ${name}`);
      target = { groupName: name };
    }
    if (deviceIds.length === 0) throw notFound('active device for this target');
    const opts = { reason: body.reason, message: body.message };
    const held = await this.gate({ type: body.type, deviceIds, target, by, ip, ...opts });
    if (held) return held;
    const commands = await this.run(deviceIds, body.type, { adminId: by.adminId, email: by.email }, ip, opts);
    await this.audit.record({
      actor: actorOf(by),
      action: 'command.bulk_sent',
      details: { type: body.type, target, devices: commands.length },
      ip,
    });
    return { state: 'queued', commands };
  }

  async list(state?: string): Promise<{ items: Approval[] }> {
    await this.expireOverdue();
    return { items: (await this.repo.list(state)).map(presentApproval) };
  }

  async get(id: string): Promise<Approval> {
    await this.expireOverdue();
    return presentApproval(await this.load(id));
  }

  async approve(id: string, by: AdminPrincipal, ip: string, reason?: string): Promise<Approval> {
    const row = await this.decidable(id, by);
    const runAfter = this.iso(this.delayMs);
    const changed = await this.repo.transition(id, ['pending_approval'], {
      state: 'approved',
      decided_by: by.adminId,
      decided_by_email: by.email,
      decision_reason: reason ?? null,
      decided_at: this.iso(),
      run_after: runAfter,
    });
    if (!changed) throw new AppError(409, 'conflict', 'the request was decided meanwhile');
    await this.audit.record({
      actor: actorOf(by),
      action: 'approval.approved',
      target: id,
      details: { type: row.type, requestedBy: row.requested_by_email, runAfter },
      ip,
    });
    if (this.delayMs <= 0) await this.runDue();
    return presentApproval(await this.load(id));
  }

  async deny(id: string, by: AdminPrincipal, ip: string, reason?: string): Promise<Approval> {
    const row = await this.decidable(id, by);
    const changed = await this.repo.transition(id, ['pending_approval'], {
      state: 'denied',
      decided_by: by.adminId,
      decided_by_email: by.email,
      decision_reason: reason ?? null,
      decided_at: this.iso(),
    });
    if (!changed) throw new AppError(409, 'conflict', 'the request was decided meanwhile');
    await this.audit.record({
      actor: actorOf(by),
      action: 'approval.denied',
      target: id,
      details: { type: row.type, requestedBy: row.requested_by_email, ...(reason ? { reason } : {}) },
      ip,
    });
    return presentApproval(await this.load(id));
  }

  /** The requester, or anyone who may decide it, stops a request before it runs. */
  async cancel(id: string, by: AdminPrincipal, ip: string): Promise<Approval> {
    await this.expireOverdue();
    const row = await this.load(id);
    if (row.requested_by !== by.adminId && !this.mayDecide(by, row.type as CommandType))
      throw forbidden('only the requester or an administrator who may approve it can cancel this request');
    const changed = await this.repo.transition(id, ['pending_approval', 'approved'], {
      state: 'cancelled',
      decided_at: row.decided_at ?? this.iso(),
      ...(row.decided_by ? {} : { decided_by: by.adminId, decided_by_email: by.email }),
    });
    if (!changed)
      throw new AppError(
        409,
        'conflict',
        `the request is ${(await this.load(id)).state}; only a pending or approved request that has not run can be cancelled`,
      );
    await this.audit.record({
      actor: actorOf(by),
      action: 'approval.cancelled',
      target: id,
      details: { type: row.type, previousState: row.state },
      ip,
    });
    return presentApproval(await this.load(id));
  }

  /**
   * The scheduled step (server.ts; tests call it): expires overdue requests and runs approved ones
   * whose delay has elapsed. Safe on several nodes: each request is claimed by one state change.
   */
  async runDue(): Promise<void> {
    await this.expireOverdue();
    for (const row of await this.repo.due(this.iso())) {
      if (!(await this.repo.transition(row.id, ['approved'], { state: 'executed', executed_at: this.iso() })))
        continue;
      const deviceIds = JSON.parse(row.device_ids) as string[];
      const commands = await this.run(
        deviceIds,
        row.type as CommandType,
        { adminId: row.requested_by, email: row.requested_by_email },
        null,
        { reason: row.reason ?? undefined, message: row.message ?? undefined },
      );
      await this.repo.setCommandIds(
        row.id,
        commands.map((c) => c.commandId),
      );
      await this.audit.record({
        actor: SYSTEM,
        action: 'approval.executed',
        target: row.id,
        details: {
          type: row.type,
          requestedBy: row.requested_by_email,
          approvedBy: row.decided_by_email,
          devices: deviceIds.length,
          sent: commands.length,
        },
      });
    }
  }

  private async expireOverdue(): Promise<void> {
    for (const row of await this.repo.overdue(this.iso())) {
      if (await this.repo.transition(row.id, ['pending_approval'], { state: 'expired' }))
        await this.audit.record({
          actor: SYSTEM,
          action: 'approval.expired',
          target: row.id,
          details: { type: row.type, requestedBy: row.requested_by_email },
        });
    }
  }

  /** Sends to each device; a device revoked meanwhile is skipped (its absence is the record). */
  private async run(
    deviceIds: string[],
    type: CommandType,
    by: { adminId: string; email: string },
    ip: string | null,
    opts: { reason?: string | undefined; message?: string | undefined },
  ) {
    const out = [];
    for (const deviceId of deviceIds) {
      try {
        out.push({ ...(await this.devices().execute(deviceId, type, by, ip, opts)), deviceId });
      } catch (err) {
        if (err instanceof AppError && (err.status === 404 || err.status === 409)) continue;
        throw err;
      }
    }
    return out;
  }

  private mayDecide(by: AdminPrincipal, type: CommandType): boolean {
    return (
      roleHasPermission(by.role, 'approvals:decide') && roleHasPermission(by.role, commandPermission(type))
    );
  }

  private async load(id: string): Promise<ApprovalRow> {
    const row = await this.repo.byId(id);
    if (!row) throw notFound('approval request');
    return row;
  }

  /** Checks shared by approve and deny: still pending, a different administrator, the right permissions. */
  private async decidable(id: string, by: AdminPrincipal): Promise<ApprovalRow> {
    await this.expireOverdue();
    const row = await this.load(id);
    if (row.requested_by === by.adminId)
      throw new AppError(
        403,
        'approval_self',
        'a second administrator must decide this request, not its requester',
      );
    const needed = commandPermission(row.type as CommandType);
    if (!this.mayDecide(by, row.type as CommandType))
      throw forbidden(`deciding this request needs the approvals:decide and ${needed} permissions`);
    if (row.state !== 'pending_approval')
      throw new AppError(409, 'conflict', `the request is ${row.state}, no longer pending approval`);
    return row;
  }
}
