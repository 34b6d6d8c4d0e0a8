import {
  COMPLIANCE_ACTION_DEFAULTS,
  type ComplianceReason,
  type ComplianceResult,
  type ComplianceStatus,
  type DevicePolicy,
  type PostureReport,
} from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import { AppError } from '../../platform/http/app-error.js';
import type { DevicePrincipal } from '../../platform/http/route.js';
import { type AuditActor, type AuditService, SYSTEM } from '../audit/index.js';
import type { ComplianceRepository } from './compliance.repository.js';
import { evaluateRules } from './compliance.rules.js';

/** Where a device's effective policy comes from (the policies module, wired in app.ts). */
export interface CompliancePolicySource {
  forDevice(userId: string, userEmail: string): Promise<DevicePolicy>;
}

/** The device actions compliance needs from the devices module (wired in app.ts). */
export interface ComplianceEnforcer {
  /** Queues a signed 'wipe-work' command on the system's behalf. */
  wipeWork(deviceId: string, reason: string): Promise<void>;
  /** Revokes the device on the system's behalf. */
  revoke(deviceId: string, reason: string): Promise<void>;
}

const ACTOR: AuditActor = { ...SYSTEM, label: 'compliance' };

function parseReasons(json: string | undefined): ComplianceReason[] {
  try {
    const v = JSON.parse(json ?? '[]') as unknown;
    return Array.isArray(v) ? (v as ComplianceReason[]) : [];
  } catch {
    return [];
  }
}

/**
 * Compliance: evaluates a device's last posture and contact against its effective policy, keeps
 * since when each rule is broken, applies each rule's action once its grace period is over, and
 * lifts block and quarantine when the device is back in line. Every transition and action is audited
 * and published as the `device.compliance_changed` webhook event.
 */
export class ComplianceService {
  constructor(
    private readonly repo: ComplianceRepository,
    private readonly policies: CompliancePolicySource,
    private readonly enforcer: ComplianceEnforcer,
    private readonly audit: AuditService,
    private readonly bus: Bus,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** `POST /api/v1/device/posture`: store the report (and the contact), then evaluate. */
  async reportPosture(p: DevicePrincipal, report: PostureReport): Promise<ComplianceResult> {
    const now = this.clock();
    await this.repo.savePosture(p.deviceId, report, now.toISOString());
    const r = await this.evaluate(p.deviceId, now);
    if (!r) throw new AppError(401, 'device_revoked', 'this device has been revoked by the organisation');
    return r;
  }

  /** Re-evaluates the active devices of these users (or of everyone) after a policy change. */
  async evaluateUsers(userIds: string[] | 'all', now = this.clock()): Promise<number> {
    const ids = await this.repo.activeDeviceIds(userIds === 'all' ? undefined : userIds);
    for (const id of ids) await this.evaluate(id, now);
    return ids.length;
  }

  /** Evaluates one device; null when it is unknown or no longer active. */
  async evaluate(deviceId: string, now = this.clock()): Promise<ComplianceResult | null> {
    // A concurrent evaluation that stored first wins; evaluate again from its state.
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await this.evaluateOnce(deviceId, now);
      if (r !== 'retry') return r;
    }
    return null;
  }

  private async evaluateOnce(deviceId: string, now: Date): Promise<ComplianceResult | null | 'retry'> {
    const d = await this.repo.device(deviceId);
    if (!d || d.status !== 'active') return null;
    const policy = await this.policies.forDevice(d.user_id, d.user_email);
    const posture = await this.repo.posture(deviceId);
    const findings = evaluateRules({
      posture,
      policy: policy.document,
      lastContactAt: d.last_contact_at ?? d.activated_at,
      now,
    });
    const previous = parseReasons(d.compliance_reasons);
    const at = now.toISOString();
    const reasons: ComplianceReason[] = findings.map((f) => {
      const rule = policy.document.complianceActions[f.code] ?? COMPLIANCE_ACTION_DEFAULTS[f.code];
      const prev = previous.find((r) => r.code === f.code);
      const since = prev?.since ?? at;
      const enforceAt = new Date(Date.parse(since) + rule.graceMinutes * 60_000).toISOString();
      const due = Date.parse(enforceAt) <= now.getTime();
      const kept = prev?.enforcedAt && prev.action === rule.action ? prev.enforcedAt : at;
      return {
        code: f.code,
        message: f.message,
        since,
        action: rule.action,
        enforceAt,
        enforcedAt: due ? kept : null,
      };
    });
    let status: ComplianceStatus = 'compliant';
    if (!posture && !reasons.length) status = 'unknown';
    else if (reasons.some((r) => r.enforcedAt)) status = 'non-compliant';
    else if (reasons.length) status = 'warning';
    const enforced = (action: string) => reasons.some((r) => r.enforcedAt && r.action === action);
    const messagingBlocked = enforced('block_messaging');
    const quarantined = enforced('quarantine');
    const stored = d.compliance_reasons ?? '[]';
    const ok = await this.repo.saveState(deviceId, stored, {
      compliance: status,
      reasons: JSON.stringify(reasons),
      evaluatedAt: at,
      messagingBlocked,
      quarantined,
    });
    if (!ok) return 'retry';

    const from = d.compliance ?? 'unknown';
    const codes = reasons.map((r) => r.code);
    const audit = (action: string, details: Record<string, unknown>) =>
      this.audit.record({
        actor: ACTOR,
        action,
        target: deviceId,
        details: { userEmail: d.user_email, ...details },
      });
    const changed = from !== status || JSON.stringify(previous.map((r) => r.code)) !== JSON.stringify(codes);
    if (changed) {
      await audit('device.compliance_changed', { from, to: status, reasons: codes });
      this.bus.publish('webhook.event', {
        type: 'device.compliance_changed',
        data: { deviceId, userId: d.user_id, userEmail: d.user_email, from, to: status, reasons: codes },
      });
    }
    if (messagingBlocked !== (Number(d.messaging_blocked ?? 0) === 1))
      await audit(messagingBlocked ? 'device.messaging_blocked' : 'device.messaging_unblocked', {
        reasons: codes,
      });
    if (quarantined !== (Number(d.quarantined ?? 0) === 1))
      await audit(quarantined ? 'device.quarantined' : 'device.quarantine_lifted', { reasons: codes });
    for (const r of reasons) {
      const wasEnforced = previous.some((p) => p.code === r.code && p.enforcedAt && p.action === r.action);
      if (!r.enforcedAt || wasEnforced) continue;
      await audit('device.compliance_action', { rule: r.code, action: r.action, since: r.since });
      const why = `compliance: ${r.code}`;
      if (r.action === 'wipe_work') await this.enforcer.wipeWork(deviceId, why);
      if (r.action === 'revoke') await this.enforcer.revoke(deviceId, why);
    }
    return { compliance: status, reasons, messagingBlocked, quarantined, evaluatedAt: at };
  }
}
