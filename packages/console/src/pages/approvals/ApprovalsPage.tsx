import { useEffect, useState } from 'react';
import { Link } from 'react-router';
import type { Approval } from '@enclave/protocol';
import { api } from '../../api/client';
import { useSession } from '../../auth/session';
import {
  Button,
  ConfirmDialog,
  DataTable,
  EmptyState,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  useToast,
} from '../../components';
import { fmtDateTime, fmtRelative, humanize, plural } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { type Decision, timeLeft, whyNot } from './approval-rules';

const OPEN = new Set(['pending_approval', 'approved']);

const STATE_LABEL: Record<Approval['state'], string> = {
  pending_approval: 'Pending approval',
  approved: 'Approved',
  denied: 'Denied',
  expired: 'Expired',
  cancelled: 'Cancelled',
  executed: 'Executed',
};

function targetText(a: Approval) {
  if (a.target.userEmail) return <>devices of {a.target.userEmail}</>;
  if (a.target.groupName) return <>group {a.target.groupName}</>;
  if (a.deviceIds.length === 1 && a.deviceIds[0])
    return <Link to={`/devices/${a.deviceIds[0]}`}>one device</Link>;
  return <>{plural(a.deviceCount, 'device')}</>;
}

/** A clock that ticks every second while mounted (for the countdowns). */
function useNow(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, []);
  return now;
}

/**
 * Guarded bulk commands and full wipes: a second administrator approves or denies; an approved
 * request runs after a cancellable delay; an undecided one expires.
 */
export function ApprovalsPage() {
  const { admin, can } = useSession();
  const toast = useToast();
  const now = useNow();
  const list = useAsync(() => api.approvals(), [], { pollMs: 5000 });
  const [acting, setActing] = useState<{ a: Approval; decision: Decision } | null>(null);
  const [reason, setReason] = useState('');
  const me = { id: admin?.id ?? '', can };
  const items = list.data?.items;
  const open = items?.filter((a) => OPEN.has(a.state));
  const decided = items?.filter((a) => !OPEN.has(a.state));

  const stateCell = (a: Approval) => {
    const left =
      a.state === 'pending_approval'
        ? timeLeft(a.expiresAt, now)
        : a.state === 'approved' && a.runAfter
          ? timeLeft(a.runAfter, now)
          : null;
    return (
      <div>
        <StatusBadge
          status={a.state === 'pending_approval' ? 'pending' : a.state}
          label={STATE_LABEL[a.state]}
        />
        <div className="small muted nowrap">
          {a.state === 'pending_approval' && (left ? `expires in ${left}` : 'expiring now')}
          {a.state === 'approved' && (left ? `runs in ${left}` : 'running now')}
          {a.state === 'executed' && `ran ${fmtRelative(a.executedAt, now)}`}
          {(a.state === 'denied' || a.state === 'cancelled') &&
            a.decidedAt &&
            `${fmtRelative(a.decidedAt, now)}`}
          {a.state === 'expired' && `expired ${fmtRelative(a.expiresAt, now)}`}
        </div>
      </div>
    );
  };

  const actionsCell = (a: Approval) => {
    const buttons = (['approve', 'deny', 'cancel'] as const).filter((d) => whyNot(a, d, me) === null);
    if (buttons.length === 0) {
      // Say why there is nothing to do on an open request (e.g. one's own request).
      const why = OPEN.has(a.state) ? whyNot(a, 'approve', me) : null;
      return why && a.state === 'pending_approval' ? <span className="small muted">{why}</span> : null;
    }
    return (
      <div className="row">
        {buttons.map((d) => (
          <Button
            key={d}
            size="small"
            variant={d === 'approve' ? 'primary' : d === 'deny' ? 'danger' : 'default'}
            aria-label={`${humanize(d)} the ${humanize(a.type).toLowerCase()} request by ${a.requestedBy.email}`}
            onClick={() => {
              setReason('');
              setActing({ a, decision: d });
            }}
          >
            {humanize(d)}
          </Button>
        ))}
        {a.state === 'pending_approval' && a.requestedBy.id === me.id && (
          <span className="small muted">Waiting for a second administrator.</span>
        )}
      </div>
    );
  };

  const columns = [
    {
      header: 'Request',
      cell: (a: Approval) => (
        <div>
          <strong>{humanize(a.type)}</strong> · {targetText(a)}{' '}
          <span className="muted small">({plural(a.deviceCount, 'device')})</span>
          <div className="small muted">
            {a.guardrail === 'full_wipe'
              ? 'A full wipe needs a second administrator'
              : 'Over the bulk threshold'}
            {a.reason && <> · “{a.reason}”</>}
          </div>
        </div>
      ),
    },
    {
      header: 'Requested by',
      cell: (a: Approval) => (
        <div>
          {a.requestedBy.email}
          <div className="small muted nowrap" title={fmtDateTime(a.createdAt)}>
            {fmtRelative(a.createdAt, now)}
          </div>
        </div>
      ),
    },
    { header: 'State', cell: stateCell },
    {
      header: 'Decision',
      cell: (a: Approval) =>
        a.decidedBy ? (
          <div className="small">
            {a.decidedBy.email}
            {a.decisionReason && <div className="muted">“{a.decisionReason}”</div>}
          </div>
        ) : (
          <span className="muted small">—</span>
        ),
    },
    { header: 'Actions', cell: actionsCell },
  ];

  return (
    <>
      <PageHeader
        title="Approvals"
        description="Full wipes and bulk commands over the threshold wait here for a second administrator. An approved request runs after a short delay during which it can still be cancelled."
      />
      <ErrorBanner error={list.error} onRetry={list.reload} />
      <section aria-labelledby="appr-open" className="stack section-gap">
        <h2 id="appr-open">Waiting</h2>
        <DataTable<Approval>
          caption="Requests waiting for a decision or to run"
          testId="approvals-open-table"
          loading={list.loading}
          rows={open}
          rowKey={(a) => a.id}
          columns={columns}
          empty={<EmptyState title="Nothing waiting">No request needs a decision.</EmptyState>}
        />
      </section>
      <section aria-labelledby="appr-decided" className="stack section-gap">
        <h2 id="appr-decided">Decided</h2>
        <DataTable<Approval>
          caption="Decided requests"
          testId="approvals-decided-table"
          loading={list.loading}
          rows={decided}
          rowKey={(a) => a.id}
          columns={columns.filter((c) => c.header !== 'Actions')}
          empty={<EmptyState title="No decided requests yet" />}
        />
      </section>
      {acting && (
        <ConfirmDialog
          title={`${humanize(acting.decision)} this ${humanize(acting.a.type).toLowerCase()}?`}
          confirmLabel={acting.decision === 'cancel' ? 'Cancel request' : humanize(acting.decision)}
          destructive={acting.decision !== 'approve'}
          onClose={() => setActing(null)}
          onConfirm={async () => {
            const { a, decision } = acting;
            const why = reason.trim() || undefined;
            if (decision === 'approve') await api.approve(a, why);
            else if (decision === 'deny') await api.deny(a, why);
            else await api.cancelApproval(a);
            toast.info(
              decision === 'approve'
                ? `Approved: the ${humanize(a.type).toLowerCase()} runs after the delay unless cancelled.`
                : decision === 'deny'
                  ? 'Request denied.'
                  : 'Request cancelled.',
            );
            list.reload();
          }}
        >
          <p>
            {humanize(acting.a.type)} of {plural(acting.a.deviceCount, 'device')}, requested by{' '}
            {acting.a.requestedBy.email}
            {acting.a.reason ? ` (“${acting.a.reason}”)` : ''}.
          </p>
          {acting.decision !== 'cancel' && (
            <div className="field">
              <label htmlFor="approval-reason">Reason (optional, kept in the audit log)</label>
              <input
                id="approval-reason"
                type="text"
                maxLength={500}
                value={reason}
                onChange={(e) => setReason(e.target.value)}
              />
            </div>
          )}
        </ConfirmDialog>
      )}
    </>
  );
}
