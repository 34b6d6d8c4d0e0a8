export type Tone = 'ok' | 'warn' | 'danger' | 'info' | 'neutral';

const TONES: Record<string, Tone> = {
  // device status
  active: 'ok',
  revoked: 'danger',
  // compliance
  compliant: 'ok',
  warning: 'warn',
  'non-compliant': 'danger',
  unknown: 'neutral',
  // commands
  queued: 'neutral',
  delivered: 'info',
  acknowledged: 'info',
  done: 'ok',
  failed: 'danger',
  expired: 'warn',
  // activation passwords
  live: 'info',
  used: 'ok',
  locked: 'danger',
  // approvals
  pending: 'warn',
  pending_approval: 'warn',
  approved: 'ok',
  denied: 'danger',
  cancelled: 'neutral',
  executed: 'ok',
};

const LABELS: Record<string, string> = {
  'non-compliant': 'Non-compliant',
  'wipe-work': 'Wipe work',
  pending_approval: 'Awaiting approval',
};

/** A coloured status pill. Tone comes from the status word unless given. The text is always visible (never colour alone). */
export function StatusBadge({ status, tone, label }: { status: string; tone?: Tone; label?: string }) {
  const t = tone ?? TONES[status] ?? 'neutral';
  const text =
    label ?? LABELS[status] ?? status.charAt(0).toUpperCase() + status.slice(1).replace(/[-_]/g, ' ');
  return (
    <span className={`badge${t === 'neutral' ? '' : ` badge-${t}`}`} data-status={status}>
      {text}
    </span>
  );
}
