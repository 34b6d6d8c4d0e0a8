import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { Dashboard } from '@enclave/protocol';
import { api } from '../../api/client';
import { useCan } from '../../auth/session';
import { ErrorBanner, PageHeader, Skeleton } from '../../components';
import { fmtNumber, fmtRelative, humanize } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { ActivationsChart } from './ActivationsChart';

/** How often the dashboard refreshes itself while the tab is visible. */
export const DASHBOARD_POLL_MS = 5_000;

/** Where each figure leads: the list behind it, filtered. */
export const links = {
  users: '/users',
  usersWithoutDevice: '/users?withoutDevice=true',
  devices: '/devices',
  active: '/devices?status=active',
  // No list of live activation passwords across users exists: they are on each user's page.
  pendingActivation: '/users',
  nonCompliant: '/devices?status=active&compliance=non-compliant',
  revoked: '/devices?status=revoked',
  // Closest list to "open streams": devices in contact in the last 5 minutes.
  connected: '/devices?status=active&lastContact=5m',
  platform: (p: string) => `/devices?status=active&platform=${encodeURIComponent(p)}`,
  compliance: (c: string) => `/devices?status=active&compliance=${c}`,
  approvals: '/approvals',
  audit: '/audit',
  /** Failed commands are in the audit log (`command.failed`); from yesterday's date on. */
  commandsFailed: () =>
    `/audit?action=command.failed&from=${new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)}`,
};

export function DashboardPage() {
  const can = useCan();
  const { data, error, reload } = useAsync((signal) => api.dashboard(signal), [], {
    pollMs: DASHBOARD_POLL_MS,
  });
  return (
    <>
      <PageHeader
        title="Dashboard"
        description="Your fleet at a glance. Figures refresh every few seconds while this tab is open."
        actions={
          <span className="small muted" data-testid="dashboard-updated">
            {data ? (
              <>
                <span className="badge badge-ok">Live</span> updated{' '}
                {new Date(data.generatedAt).toLocaleTimeString()}
              </>
            ) : (
              'Loading…'
            )}
          </span>
        }
      />
      <ErrorBanner error={error} title="The dashboard could not be refreshed." onRetry={reload} />
      <div className="stack" aria-busy={!data}>
        <div className="grid grid-4">
          <Stat
            id="users"
            label="Users"
            value={data?.users.total}
            to={links.users}
            sub={data && `${fmtNumber(data.users.withoutDevice)} without a device`}
          />
          <Stat
            id="devices-active"
            label="Active devices"
            value={data?.devices.active}
            to={links.active}
            tone="ok"
            sub={data && `${fmtNumber(data.devices.total)} enrolled in total`}
          />
          <Stat
            id="devices-pending"
            label="Pending activation"
            value={data?.devices.pendingActivation}
            to={links.pendingActivation}
            sub="live activation passwords"
          />
          <Stat
            id="devices-noncompliant"
            label="Non-compliant"
            value={data?.devices.nonCompliant}
            to={links.nonCompliant}
            tone={data && data.devices.nonCompliant > 0 ? 'danger' : undefined}
            sub="active devices breaking a rule"
          />
        </div>
        <div className="grid grid-4">
          <Stat
            id="connected"
            label="Connected now"
            value={data?.devices.connectedNow}
            to={links.connected}
            sub="open device streams"
          />
          <Stat
            id="commands-pending"
            label="Commands pending"
            value={data?.commands.pending}
            sub="queued or delivered"
          />
          <Stat
            id="commands-failed"
            label="Commands failed"
            value={data?.commands.failed24h}
            to={links.commandsFailed()}
            tone={data && data.commands.failed24h > 0 ? 'danger' : undefined}
            sub="in the last 24 hours"
          />
          <Stat
            id="approvals"
            label="Awaiting approval"
            value={data?.commands.awaitingApproval}
            to={links.approvals}
            tone={data && data.commands.awaitingApproval > 0 ? 'warn' : undefined}
            sub="bulk actions for a second admin"
          />
        </div>
        <div className="grid grid-4">
          <Stat
            id="messages"
            label="Messages relayed"
            value={data?.messages24h}
            sub="last 24 hours · counts only, content is end-to-end encrypted"
          />
          <Stat
            id="certs-expiring"
            label="Certificates expiring"
            value={data?.expiring.certificates30d}
            to={links.active}
            tone={data && data.expiring.certificates30d > 0 ? 'warn' : undefined}
            sub="within 30 days"
          />
          <Stat
            id="activations-expiring"
            label="Activation passwords expiring"
            value={data?.expiring.activationPasswords24h}
            to={links.pendingActivation}
            sub="within 24 hours"
          />
          <Stat
            id="devices-revoked"
            label="Revoked devices"
            value={data?.devices.revoked}
            to={links.revoked}
            sub="certificates on the CRL"
          />
        </div>

        <div className="grid grid-2">
          <section className="card" aria-labelledby="act-h">
            <h2 id="act-h">Activations, last 30 days</h2>
            {data ? (
              <ActivationsChart days={data.activationsPerDay} />
            ) : (
              <Skeleton width="100%" height="150px" />
            )}
          </section>
          <section className="card" aria-labelledby="comp-h">
            <h2 id="comp-h">Compliance</h2>
            {data ? <ComplianceCard data={data} /> : <Skeleton width="100%" height="150px" />}
          </section>
        </div>

        <div className="grid grid-3">
          <section className="card" aria-labelledby="plat-h">
            <h2 id="plat-h">Platforms</h2>
            {data ? (
              <Breakdown
                rows={data.platforms.map((p) => ({
                  key: p.platform,
                  label: p.platform,
                  count: p.count,
                  to: links.platform(p.platform),
                }))}
                empty="No active devices yet."
              />
            ) : (
              <Skeleton width="100%" height="90px" />
            )}
          </section>
          <section className="card" aria-labelledby="os-h">
            <h2 id="os-h">OS versions</h2>
            {data ? (
              <Breakdown
                rows={data.osVersions.map((o) => ({
                  key: `${o.platform} ${o.osVersion}`,
                  label: `${o.platform} ${o.osVersion}`,
                  count: o.count,
                  to: links.platform(o.platform),
                }))}
                empty="No device has reported its OS version yet."
              />
            ) : (
              <Skeleton width="100%" height="90px" />
            )}
          </section>
          <section className="card" aria-labelledby="audit-h">
            <div className="card-header">
              <h2 id="audit-h">Latest activity</h2>
              {can('audit:read') && <Link to={links.audit}>Audit log</Link>}
            </div>
            {!can('audit:read') ? (
              <p className="muted">Your role does not include the audit log.</p>
            ) : data ? (
              data.recentAudit.length === 0 ? (
                <p className="muted">Nothing recorded yet.</p>
              ) : (
                <ul className="link-list" data-testid="recent-audit">
                  {data.recentAudit.map((e) => (
                    <li key={e.seq}>
                      <span>
                        <span className="mono">{e.action}</span>
                        <span className="muted small"> · {e.actorLabel}</span>
                        {e.outcome === 'failure' && <span className="badge badge-danger">failed</span>}
                      </span>
                      <span className="muted small nowrap">{fmtRelative(e.at)}</span>
                    </li>
                  ))}
                </ul>
              )
            ) : (
              <Skeleton width="100%" height="90px" />
            )}
          </section>
        </div>
      </div>
    </>
  );
}

function Stat({
  id,
  label,
  value,
  to,
  sub,
  tone,
}: {
  id: string;
  label: string;
  value: number | undefined;
  to?: string;
  sub?: ReactNode;
  tone?: 'ok' | 'warn' | 'danger' | undefined;
}) {
  const body = (
    <>
      <div className="label">{label}</div>
      <div className="value" data-testid={`stat-${id}`}>
        {value === undefined ? <Skeleton width="3ch" /> : fmtNumber(value)}
      </div>
      {sub && <div className="sub">{sub}</div>}
    </>
  );
  const cls = `stat${tone ? ` tone-${tone}` : ''}`;
  return to ? (
    // No aria-label: the visible label, figure and sub-line are the link's name (axe label-content-name-mismatch).
    <Link to={to} className={cls}>
      {body}
    </Link>
  ) : (
    <div className={cls}>{body}</div>
  );
}

function Breakdown({
  rows,
  empty,
}: {
  rows: { key: string; label: string; count: number; to: string }[];
  empty: string;
}) {
  if (rows.length === 0) return <p className="muted">{empty}</p>;
  const max = Math.max(1, ...rows.map((r) => r.count));
  return (
    <ul className="link-list">
      {rows.map((r) => (
        <li key={r.key}>
          <span style={{ flex: 1, minWidth: 0 }}>
            <Link to={r.to}>{r.label}</Link>
            <span className="bar" aria-hidden="true">
              <span style={{ width: `${(r.count / max) * 100}%` }} />
            </span>
          </span>
          <span className="nowrap">{fmtNumber(r.count)}</span>
        </li>
      ))}
    </ul>
  );
}

function ComplianceCard({ data }: { data: Dashboard }) {
  const c = data.compliance;
  const rows = [
    { key: 'compliant', label: 'Compliant', count: c.compliant, to: links.compliance('compliant') },
    { key: 'warning', label: 'Warning (grace period)', count: c.warning, to: links.compliance('warning') },
    {
      key: 'non-compliant',
      label: 'Non-compliant',
      count: c.nonCompliant,
      to: links.compliance('non-compliant'),
    },
    { key: 'unknown', label: 'Not yet evaluated', count: c.unknown, to: links.compliance('unknown') },
  ];
  return (
    <>
      <Breakdown rows={rows} empty="No active devices yet." />
      <h3 style={{ marginTop: 16, marginBottom: 4 }}>Top reasons</h3>
      {c.topReasons.length === 0 ? (
        <p className="muted">No device breaks a rule.</p>
      ) : (
        <Breakdown
          rows={c.topReasons.map((r) => ({
            key: r.rule,
            label: humanize(r.rule),
            count: r.count,
            to: links.nonCompliant,
          }))}
          empty=""
        />
      )}
    </>
  );
}
