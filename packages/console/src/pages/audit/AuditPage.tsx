import { useEffect, useState, type FormEvent } from 'react';
import { useSearchParams } from 'react-router';
import type { AuditEntry, AuditVerifyResult } from '@enclave/protocol';
import { api } from '../../api/client';
import {
  Banner,
  Button,
  DataTable,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  StatusBadge,
} from '../../components';
import { fmtDateTime, fmtNumber } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

const LIMIT = 50;
const FILTERS = ['action', 'actor', 'target', 'from', 'to'] as const;
type Filter = (typeof FILTERS)[number];

/** The day after `yyyy-mm-dd`: the server's `to` is exclusive, the form's "To" date is inclusive. */
function dayAfter(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The server-side query for the filters in the page's URL (shared by the list and the CSV export). */
function serverQuery(params: URLSearchParams): Record<string, string | undefined> {
  const q: Record<string, string | undefined> = {};
  for (const k of FILTERS) {
    const v = params.get(k)?.trim();
    if (v) q[k] = k === 'to' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? dayAfter(v) : v;
  }
  return q;
}

function detailsText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' · ');
}

function actorText(e: AuditEntry): string {
  if (e.actorLabel) return e.actorLabel;
  if (e.actorId) return `${e.actorType} ${e.actorId}`;
  return e.actorType;
}

/**
 * The hash-chained audit log: filter by action, actor, target and dates (kept in the URL so a filtered
 * view can be shared), page through it, verify the chain end to end and export the filtered rows as CSV.
 */
export function AuditPage() {
  const [params, setParams] = useSearchParams();
  const offset = Math.max(0, Number(params.get('offset') ?? 0) || 0);
  const query = serverQuery(params);
  const key = JSON.stringify(query);
  const page = useAsync(() => api.audit({ ...query, limit: LIMIT, offset }), [key, offset]);
  const fromUrl = () =>
    Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? ''])) as Record<Filter, string>;
  const [draft, setDraft] = useState<Record<Filter, string>>(fromUrl);
  // A link to a filtered view (dashboard, back/forward) refills the form.
  useEffect(() => setDraft(fromUrl()), [key]); // key: the filters in the URL
  const [verify, setVerify] = useState<AuditVerifyResult | null>(null);
  const [verifyError, setVerifyError] = useState<unknown>(null);
  const [verifying, setVerifying] = useState(false);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    const next = new URLSearchParams();
    for (const k of FILTERS) if (draft[k].trim()) next.set(k, draft[k].trim());
    setParams(next);
  };
  const clear = () => {
    setDraft({ action: '', actor: '', target: '', from: '', to: '' });
    setParams(new URLSearchParams());
  };
  const setOffset = (o: number) => {
    const next = new URLSearchParams(params);
    if (o > 0) next.set('offset', String(o));
    else next.delete('offset');
    setParams(next);
  };
  const runVerify = async () => {
    setVerifying(true);
    setVerify(null);
    setVerifyError(null);
    try {
      setVerify(await api.verifyAudit());
    } catch (e) {
      setVerifyError(e);
    } finally {
      setVerifying(false);
    }
  };
  const filtered = Object.keys(query).length > 0;

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Every administrator, device, employee and system action, newest first. Each entry carries the hash of the one before, so a changed or deleted entry breaks the chain."
        actions={
          <>
            <Button onClick={() => void runVerify()} busy={verifying}>
              Verify chain
            </Button>
            <a className="btn" href={api.auditExportUrl(query)} download>
              Export CSV{filtered ? ' (filtered)' : ''}
            </a>
          </>
        }
      />
      <div data-testid="audit-verify-result" aria-live="polite">
        {verify &&
          (verify.ok ? (
            <Banner tone="ok">
              <strong>Chain intact.</strong> {fmtNumber(verify.entries)} entries verified from the first to
              the last.
            </Banner>
          ) : (
            <Banner tone="error">
              <strong>Chain broken at entry #{verify.firstBadSeq ?? '?'}.</strong>{' '}
              {verify.reason ?? 'Its hash does not match.'} ({fmtNumber(verify.entries)} entries checked.)
              Entries from there on cannot be trusted; restore the database from a backup and investigate.
            </Banner>
          ))}
        <ErrorBanner error={verifyError} />
      </div>
      <form className="toolbar audit-filters" onSubmit={apply} aria-label="Filter the audit log">
        <FormField label="Action">
          <input
            type="search"
            placeholder="policy.updated"
            value={draft.action}
            onChange={(e) => setDraft({ ...draft, action: e.target.value })}
          />
        </FormField>
        <FormField label="Actor">
          <input
            type="search"
            placeholder="email or device id"
            value={draft.actor}
            onChange={(e) => setDraft({ ...draft, actor: e.target.value })}
          />
        </FormField>
        <FormField label="Target">
          <input
            type="search"
            value={draft.target}
            onChange={(e) => setDraft({ ...draft, target: e.target.value })}
          />
        </FormField>
        <FormField label="From (UTC)">
          <input
            type="date"
            value={draft.from}
            onChange={(e) => setDraft({ ...draft, from: e.target.value })}
          />
        </FormField>
        <FormField label="To (UTC, inclusive)">
          <input type="date" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </FormField>
        <div className="row toolbar-buttons">
          <Button type="submit" variant="primary">
            Apply filters
          </Button>
          {filtered && <Button onClick={clear}>Clear</Button>}
        </div>
      </form>
      <ErrorBanner error={page.error} onRetry={page.reload} />
      <DataTable<AuditEntry>
        caption="Audit entries, newest first"
        testId="audit-table"
        loading={page.loading}
        rows={page.data?.items}
        rowKey={(e) => String(e.seq)}
        pagination={page.data ? { ...page.data, onPage: setOffset } : undefined}
        empty={
          <EmptyState title={filtered ? 'No entries match these filters' : 'No audit entries yet'}>
            {filtered ? 'Widen the dates or clear a filter.' : undefined}
          </EmptyState>
        }
        columns={[
          {
            header: 'When',
            cell: (e) => (
              <div className="nowrap">
                {fmtDateTime(e.at)}
                <div className="small muted">#{e.seq}</div>
              </div>
            ),
          },
          {
            header: 'Actor',
            cell: (e) => (
              <div>
                {actorText(e)}
                <div className="small muted">
                  {e.actorType}
                  {e.ip ? ` · ${e.ip}` : ''}
                </div>
              </div>
            ),
          },
          { header: 'Action', cell: (e) => <code>{e.action}</code> },
          { header: 'Target', cell: (e) => <span className="break small">{e.target ?? '—'}</span> },
          {
            header: 'Outcome',
            cell: (e) => <StatusBadge status={e.outcome} tone={e.outcome === 'success' ? 'ok' : 'danger'} />,
          },
          {
            header: 'Details',
            cell: (e) => <span className="small muted break clamp">{detailsText(e.details) || '—'}</span>,
          },
        ]}
      />
    </>
  );
}
