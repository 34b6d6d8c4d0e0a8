import type { Approval, CommandType, Permission } from '@enclave/protocol';

/** Which permission each command type needs (mirrors the server's COMMAND_PERMISSION). */
export const COMMAND_PERMISSION: Record<CommandType, Permission> = {
  lock: 'devices:lock',
  unlock: 'devices:lock',
  ping: 'devices:lock',
  'wipe-work': 'devices:wipe',
  wipe: 'devices:wipe',
  revoke: 'devices:revoke',
};

/** "4 min 05 s", "2 h 10 min", "3 d 4 h": the time left until `iso`, or null once past. */
export function timeLeft(iso: string, now: number): string | null {
  const ms = Date.parse(iso) - now;
  if (ms <= 0) return null;
  const s = Math.ceil(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

export type Decision = 'approve' | 'deny' | 'cancel';

/**
 * Why the signed-in administrator may not take a decision on a request, or null when they may —
 * the same rules the server enforces (it still checks them).
 */
export function whyNot(
  a: Approval,
  decision: Decision,
  me: { id: string; can: (p: Permission) => boolean },
): string | null {
  const mayDecide = me.can('approvals:decide') && me.can(COMMAND_PERMISSION[a.type]);
  if (decision === 'cancel') {
    if (a.state !== 'pending_approval' && a.state !== 'approved') return `The request is ${a.state}.`;
    if (a.requestedBy.id !== me.id && !mayDecide)
      return 'Only the requester or an administrator who may approve it can cancel.';
    return null;
  }
  if (a.state !== 'pending_approval') return `The request is ${a.state}.`;
  if (a.requestedBy.id === me.id) return 'A second administrator must decide your own request.';
  if (!mayDecide) return `Deciding needs approvals:decide and ${COMMAND_PERMISSION[a.type]}.`;
  return null;
}
