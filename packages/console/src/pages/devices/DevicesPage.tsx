import { useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import type { Device } from '@enclave/protocol';
import { api, type DeviceListQuery } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
  ConfirmDialog,
  DataTable,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  StatusBadge,
  useToast,
} from '../../components';
import { fmtRelative, humanize } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

const PAGE = 25;

/** The filters this page understands, as URL parameters (links from the dashboard land here). */
const FILTERS = ['q', 'status', 'platform', 'compliance', 'userId'] as const;

/** "Last contact" choices → the server's lastContactAfter / lastContactBefore, computed when loading. */
const LAST_CONTACT: Record<string, { label: string; after?: number; before?: number }> = {
  '5m': { label: 'In the last 5 minutes', after: 5 * 60_000 },
  '24h': { label: 'Within 24 hours', after: 24 * 3600_000 },
  '7d': { label: 'Within 7 days', after: 7 * 24 * 3600_000 },
  stale7d: { label: 'More than 7 days ago', before: 7 * 24 * 3600_000 },
  stale30d: { label: 'More than 30 days ago', before: 30 * 24 * 3600_000 },
};

const LABELS: Record<string, string> = { userId: 'User' };

/** Devices: filter by status, platform, compliance and last contact; select several for a bulk command. */
export function DevicesPage() {
  const can = useCan();
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const offset = Number(params.get('offset') ?? 0) || 0;
  const query: DeviceListQuery = { limit: PAGE, offset };
  for (const f of FILTERS) {
    const v = params.get(f);
    if (v) query[f] = v;
  }
  const lastContact = params.get('lastContact') ?? '';
  const key = JSON.stringify(query) + lastContact;
  const devices = useAsync(
    () => {
      const lc = LAST_CONTACT[lastContact];
      const now = Date.now();
      return api.devices({
        ...query,
        ...(lc?.after ? { lastContactAfter: new Date(now - lc.after).toISOString() } : {}),
        ...(lc?.before ? { lastContactBefore: new Date(now - lc.before).toISOString() } : {}),
      });
    },
    [key],
    { pollMs: 15_000 },
  );
  // The platforms in the fleet (devices report free-form platform names), for the filter.
  const fleet = useAsync(() => api.dashboard(), []);
  const platforms = [
    ...new Set([
      ...(fleet.data?.platforms.map((p) => p.platform) ?? []),
      ...(query.platform ? [query.platform] : []),
    ]),
  ];
  const [search, setSearch] = useState(query.q ?? '');
  useEffect(() => setSearch(params.get('q') ?? ''), [params]);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulk, setBulk] = useState<'lock' | 'wipe' | null>(null);
  const [bulkResult, setBulkResult] = useState<string | null>(null);

  const set = (k: string, v: string | undefined) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    p.delete('offset');
    setParams(p, { replace: true });
  };
  const extra = params.get('userId') ? ['userId'] : [];
  const rows = devices.data?.items;
  const allSelected = !!rows?.length && rows.every((d) => selected.has(d.id));
  const canBulk = can('devices:lock');

  return (
    <>
      <PageHeader title="Devices" description="Every enrolled device, its compliance and its last contact." />
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set('q', search.trim() || undefined);
        }}
      >
        <FormField label="Search">
          <input
            type="search"
            placeholder="Device name or user email"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </FormField>
        <FormField label="Status">
          <select value={query.status ?? ''} onChange={(e) => set('status', e.target.value)}>
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="revoked">Revoked</option>
          </select>
        </FormField>
        <FormField label="Platform">
          <select value={query.platform ?? ''} onChange={(e) => set('platform', e.target.value)}>
            <option value="">Any</option>
            {platforms.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </FormField>
        <FormField label="Compliance">
          <select value={query.compliance ?? ''} onChange={(e) => set('compliance', e.target.value)}>
            <option value="">Any</option>
            <option value="compliant">Compliant</option>
            <option value="warning">Warning</option>
            <option value="non-compliant">Non-compliant</option>
            <option value="unknown">Not evaluated</option>
          </select>
        </FormField>
        <FormField label="Last contact">
          <select value={lastContact} onChange={(e) => set('lastContact', e.target.value)}>
            <option value="">Any time</option>
            {Object.entries(LAST_CONTACT).map(([k, v]) => (
              <option key={k} value={k}>
                {v.label}
              </option>
            ))}
          </select>
        </FormField>
        <Button type="submit">Search</Button>
        {[...params.keys()].some((k) => k !== 'offset') && (
          <Button variant="ghost" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
            Clear filters
          </Button>
        )}
      </form>
      {extra.length > 0 && (
        <p className="row small" aria-label="Other filters">
          {extra.map((f) => (
            <span key={f} className="badge badge-info">
              {LABELS[f] ?? f}: {params.get(f)}
              <button
                type="button"
                className="btn-ghost"
                style={{ border: 0, background: 'none', cursor: 'pointer', padding: 0 }}
                aria-label={`Remove filter ${LABELS[f] ?? f}`}
                onClick={() => set(f, undefined)}
              >
                ×
              </button>
            </span>
          ))}
        </p>
      )}
      <ErrorBanner error={devices.error} onRetry={devices.reload} />
      {bulkResult && (
        <Banner tone="info">
          {bulkResult} <Link to="/approvals">Approvals</Link>
        </Banner>
      )}
      {canBulk && selected.size > 0 && (
        <div className="toolbar" aria-label="Bulk actions">
          <strong>{selected.size} selected</strong>
          <Button onClick={() => setBulk('lock')}>Lock selected</Button>
          {can('devices:wipe') && (
            <Button variant="danger" onClick={() => setBulk('wipe')}>
              Wipe selected
            </Button>
          )}
          <Button variant="ghost" onClick={() => setSelected(new Set())}>
            Clear selection
          </Button>
        </div>
      )}
      <DataTable<Device>
        caption="Devices"
        testId="devices-table"
        rows={rows}
        loading={devices.loading}
        rowKey={(d) => d.id}
        columns={[
          ...(canBulk
            ? [
                {
                  header: 'Select',
                  cell: (d: Device) => (
                    <input
                      type="checkbox"
                      aria-label={`Select ${d.name || d.id}`}
                      checked={selected.has(d.id)}
                      disabled={d.status !== 'active'}
                      onChange={(e) =>
                        setSelected((s) => {
                          const n = new Set(s);
                          if (e.target.checked) n.add(d.id);
                          else n.delete(d.id);
                          return n;
                        })
                      }
                    />
                  ),
                },
              ]
            : []),
          {
            header: 'Device',
            cell: (d) => (
              <Link to={`/devices/${d.id}`}>
                <strong>{d.name || `${d.platform} device`}</strong>
              </Link>
            ),
          },
          { header: 'User', cell: (d) => <Link to={`/users/${d.userId}`}>{d.userEmail}</Link> },
          { header: 'Platform', cell: (d) => `${d.platform}` },
          { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
          { header: 'Compliance', cell: (d) => <StatusBadge status={d.compliance} /> },
          {
            header: 'Last contact',
            cell: (d) => <span className="nowrap">{fmtRelative(d.lastContactAt)}</span>,
          },
        ]}
        empty={
          [...params.keys()].some((k) => k !== 'offset') ? (
            <EmptyState title="No devices match these filters">Change or clear the filters.</EmptyState>
          ) : (
            <EmptyState title="No devices yet">
              Devices appear here once a user activates one with an activation password.
            </EmptyState>
          )
        }
        pagination={
          devices.data && {
            total: devices.data.total,
            limit: PAGE,
            offset,
            onPage: (o) => set('offset', o ? String(o) : undefined),
          }
        }
      />
      {canBulk && rows && rows.length > 0 && (
        <p className="small" style={{ marginTop: 8 }}>
          <Button
            size="small"
            variant="ghost"
            onClick={() =>
              setSelected(
                allSelected ? new Set() : new Set(rows.filter((d) => d.status === 'active').map((d) => d.id)),
              )
            }
          >
            {allSelected ? 'Deselect all on this page' : 'Select all active on this page'}
          </Button>
        </p>
      )}
      {bulk && (
        <ConfirmDialog
          title={`${bulk === 'lock' ? 'Lock' : 'Wipe'} ${selected.size} devices?`}
          confirmLabel={bulk === 'lock' ? 'Lock devices' : 'Request wipe'}
          destructive={bulk === 'wipe'}
          typeToConfirm={bulk === 'wipe' ? `wipe ${selected.size} devices` : undefined}
          onClose={() => setBulk(null)}
          onConfirm={async () => {
            const r = await api.bulkCommand({ type: bulk, deviceIds: [...selected] });
            const msg =
              r.state === 'queued'
                ? `${bulk === 'lock' ? 'Lock' : 'Wipe'} queued for ${r.commands.length} devices.`
                : r.state === 'pending_approval'
                  ? `Bulk ${bulk} of ${r.deviceCount} devices is awaiting approval by a second administrator.`
                  : `Bulk ${bulk}: ${humanize(r.state)}.`;
            setBulkResult(msg);
            toast.info(msg);
            setSelected(new Set());
            devices.reload();
          }}
        >
          <p>
            {bulk === 'wipe'
              ? 'A bulk wipe erases every selected device. It runs only after a second administrator approves it on the Approvals page.'
              : 'Each selected device locks the next time it is reached. Bulk actions over the approval threshold wait for a second administrator.'}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
