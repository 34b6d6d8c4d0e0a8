import { useState } from 'react';
import type { Webhook, WebhookDelivery } from '@enclave/protocol';
import { api } from '../../api/client';
import { Button, DataTable, Dialog, EmptyState, ErrorBanner, StatusBadge } from '../../components';
import { fmtDateTime, fmtRelative } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

const LIMIT = 20;

function attemptText(a: WebhookDelivery['attemptLog'][number]): string {
  const outcome = a.statusCode !== null ? `HTTP ${a.statusCode}` : (a.error ?? 'no answer');
  return `${fmtDateTime(a.at)}: ${outcome} in ${a.durationMs} ms`;
}

/** The delivery log of one endpoint, newest first, with every attempt; refreshes while open. */
export function WebhookDeliveries({ webhook, onClose }: { webhook: Webhook; onClose: () => void }) {
  const [offset, setOffset] = useState(0);
  const page = useAsync(
    () => api.webhookDeliveries(webhook, { limit: LIMIT, offset }),
    [webhook.id, offset],
    {
      pollMs: 3000,
    },
  );
  return (
    <Dialog title={`Deliveries to ${webhook.url}`} onClose={onClose} wide>
      <ErrorBanner error={page.error} onRetry={page.reload} />
      <DataTable<WebhookDelivery>
        caption={`Deliveries to ${webhook.url}`}
        testId="webhook-deliveries-table"
        loading={page.loading}
        rows={page.data?.items}
        rowKey={(d) => d.id}
        empty={<EmptyState title="No deliveries yet">Events appear here as they are sent.</EmptyState>}
        pagination={page.data ? { ...page.data, onPage: setOffset } : undefined}
        columns={[
          {
            header: 'Event',
            cell: (d) => (
              <div>
                <code>{d.event}</code>
                <div className="small muted nowrap">{fmtRelative(d.createdAt)}</div>
              </div>
            ),
          },
          {
            header: 'Status',
            cell: (d) => (
              <div>
                <StatusBadge
                  status={d.status}
                  tone={d.status === 'delivered' ? 'ok' : d.status === 'failed' ? 'danger' : 'warn'}
                />
                {d.status === 'pending' && d.nextAttemptAt && (
                  <div className="small muted nowrap">next try {fmtRelative(d.nextAttemptAt)}</div>
                )}
              </div>
            ),
          },
          {
            header: 'Attempts',
            cell: (d) =>
              d.attemptLog.length === 0 ? (
                <span className="muted small">not tried yet</span>
              ) : (
                <details>
                  <summary>
                    {d.attempts} {d.attempts === 1 ? 'attempt' : 'attempts'}
                    {d.lastStatusCode !== null
                      ? `, last HTTP ${d.lastStatusCode}`
                      : d.lastError
                        ? `, ${d.lastError}`
                        : ''}
                  </summary>
                  <ol className="small">
                    {d.attemptLog.map((a, i) => (
                      <li key={i}>{attemptText(a)}</li>
                    ))}
                  </ol>
                </details>
              ),
          },
        ]}
      />
      <div className="form-actions">
        <Button onClick={onClose}>Close</Button>
      </div>
    </Dialog>
  );
}
