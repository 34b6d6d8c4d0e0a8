import { useState } from 'react';
import type { Webhook } from '@enclave/protocol';
import { api } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
  ConfirmDialog,
  DataTable,
  Dialog,
  EmptyState,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  useToast,
} from '../../components';
import { fmtRelative } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { CopyButton } from '../settings/CopyButton';
import { WebhookDeliveries } from './WebhookDeliveries';
import { WebhookForm } from './WebhookForm';

type Editing = { mode: 'create' } | { mode: 'edit'; webhook: Webhook };

/** Webhook endpoints: signed HTTPS callbacks for user, device, compliance and command events. */
export function WebhooksPage() {
  const can = useCan();
  const toast = useToast();
  const mayManage = can('webhooks:manage');
  const list = useAsync(() => api.webhooks(), []);
  const [editing, setEditing] = useState<Editing | null>(null);
  const [secret, setSecret] = useState<{ url: string; secret: string; rotated: boolean } | null>(null);
  const [deleting, setDeleting] = useState<Webhook | null>(null);
  const [rotating, setRotating] = useState<Webhook | null>(null);
  const [showing, setShowing] = useState<Webhook | null>(null);
  const [error, setError] = useState<unknown>(null);

  const sendTest = async (w: Webhook) => {
    setError(null);
    try {
      await api.testWebhook(w);
      toast.info(`Test event queued for ${w.url}.`);
      setShowing(w);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <>
      <PageHeader
        title="Webhooks"
        description="Enclave POSTs signed JSON events to these HTTPS endpoints. Verify the x-enclave-signature header with the endpoint's secret."
        actions={
          mayManage && (
            <Button variant="primary" onClick={() => setEditing({ mode: 'create' })}>
              Add endpoint
            </Button>
          )
        }
      />
      <ErrorBanner error={list.error ?? error} onRetry={list.error ? list.reload : undefined} />
      {secret && (
        <section className="card section-gap" aria-labelledby="wh-secret" data-testid="webhook-secret">
          <h2 id="wh-secret">
            {secret.rotated ? 'New signing secret' : 'Signing secret'} for {secret.url}
          </h2>
          <Banner tone="warn">
            Copy it now: it is shown this once. Enclave keeps only what it needs to sign; nobody can show it
            again.
          </Banner>
          <div className="row">
            <code className="secret grow">{secret.secret}</code>
            <CopyButton text={secret.secret} what="the signing secret" />
          </div>
          <div className="form-actions">
            <Button onClick={() => setSecret(null)}>I have stored it</Button>
          </div>
        </section>
      )}
      <DataTable<Webhook>
        caption="Webhook endpoints"
        testId="webhooks-table"
        loading={list.loading}
        rows={list.data?.items}
        rowKey={(w) => w.id}
        empty={
          <EmptyState title="No webhook endpoints">
            Add one to send device, user and command events to your SIEM or ticketing system.
          </EmptyState>
        }
        columns={[
          {
            header: 'Endpoint',
            cell: (w) => (
              <div>
                <span className="mono break">{w.url}</span>
                {w.description && <div className="small muted">{w.description}</div>}
              </div>
            ),
          },
          {
            header: 'Events',
            cell: (w) => (
              <span className="small">{w.events.includes('*') ? 'All events' : w.events.join(', ')}</span>
            ),
          },
          {
            header: 'State',
            cell: (w) => (
              <StatusBadge status={w.enabled ? 'enabled' : 'disabled'} tone={w.enabled ? 'ok' : 'neutral'} />
            ),
          },
          { header: 'Updated', cell: (w) => <span className="nowrap">{fmtRelative(w.updatedAt)}</span> },
          {
            header: 'Actions',
            cell: (w) => (
              <div className="row">
                <Button size="small" onClick={() => setShowing(w)} aria-label={`Deliveries to ${w.url}`}>
                  Deliveries
                </Button>
                {mayManage && (
                  <>
                    <Button
                      size="small"
                      onClick={() => setEditing({ mode: 'edit', webhook: w })}
                      aria-label={`Edit ${w.url}`}
                    >
                      Edit
                    </Button>
                    <Button
                      size="small"
                      onClick={() => void sendTest(w)}
                      aria-label={`Send test to ${w.url}`}
                    >
                      Send test
                    </Button>
                    <Button
                      size="small"
                      onClick={() => setRotating(w)}
                      aria-label={`Rotate secret of ${w.url}`}
                    >
                      Rotate secret
                    </Button>
                    <Button size="small" onClick={() => setDeleting(w)} aria-label={`Delete ${w.url}`}>
                      Delete
                    </Button>
                  </>
                )}
              </div>
            ),
          },
        ]}
      />

      {showing && <WebhookDeliveries webhook={showing} onClose={() => setShowing(null)} />}

      {editing && (
        <Dialog
          title={editing.mode === 'create' ? 'Add a webhook endpoint' : 'Edit webhook endpoint'}
          onClose={() => setEditing(null)}
          wide
        >
          <WebhookForm
            webhook={editing.mode === 'edit' ? editing.webhook : null}
            onCancel={() => setEditing(null)}
            onSaved={(saved, newSecret) => {
              setEditing(null);
              if (newSecret) setSecret({ url: saved.url, secret: newSecret, rotated: false });
              toast.info(editing.mode === 'create' ? `Added ${saved.url}.` : `Saved ${saved.url}.`);
              list.reload();
            }}
          />
        </Dialog>
      )}

      {rotating && (
        <ConfirmDialog
          title="Rotate the signing secret?"
          confirmLabel="Rotate secret"
          destructive
          onClose={() => setRotating(null)}
          onConfirm={async () => {
            const r = await api.rotateWebhookSecret(rotating);
            setSecret({ url: r.webhook.url, secret: r.secret, rotated: true });
          }}
        >
          <p>
            Deliveries to <span className="mono">{rotating.url}</span> are signed with the new secret at once;
            the receiver must be updated with it.
          </p>
        </ConfirmDialog>
      )}

      {deleting && (
        <ConfirmDialog
          title="Delete this webhook endpoint?"
          confirmLabel="Delete endpoint"
          destructive
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.deleteWebhook(deleting);
            toast.info(`Deleted ${deleting.url}.`);
            list.reload();
          }}
        >
          <p>
            <span className="mono break">{deleting.url}</span> stops receiving events, and its delivery log is
            removed.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
