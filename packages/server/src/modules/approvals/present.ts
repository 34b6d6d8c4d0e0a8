import type { Approval, ApprovalState, CommandType } from '@enclave/protocol';
import type { ApprovalRow } from './approval.repository.js';

/** The API shape of an approval row. */
export function presentApproval(r: ApprovalRow): Approval {
  const deviceIds = JSON.parse(r.device_ids) as string[];
  return {
    id: r.id,
    state: r.state as ApprovalState,
    type: r.type as CommandType,
    target: JSON.parse(r.target) as Approval['target'],
    deviceIds,
    deviceCount: deviceIds.length,
    message: r.message,
    reason: r.reason,
    guardrail: r.guardrail as Approval['guardrail'],
    requestedBy: { id: r.requested_by, email: r.requested_by_email },
    decidedBy: r.decided_by_email ? { id: r.decided_by, email: r.decided_by_email } : null,
    decisionReason: r.decision_reason,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    decidedAt: r.decided_at,
    runAfter: r.run_after,
    executedAt: r.executed_at,
    commandIds: JSON.parse(r.command_ids) as string[],
  };
}
