import { useState, type FormEvent } from 'react';
import { WEBHOOK_EVENT_TYPES, type Webhook } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { Button, ErrorBanner, FormField } from '../../components';

const EVENT_LABELS: Record<(typeof WEBHOOK_EVENT_TYPES)[number], string> = {
  'user.created': 'A user is created',
  'device.activated': 'A device is activated',
  'device.revoked': 'A device is revoked',
  'device.compliance_changed': 'A device’s compliance changes',
  'command.state_changed': 'A command changes state',
};

/** Create or edit an endpoint: https URL, the events it receives, description, enabled. */
export function WebhookForm({
  webhook,
  onSaved,
  onCancel,
}: {
  webhook: Webhook | null;
  onSaved: (w: Webhook, secret?: string) => void;
  onCancel: () => void;
}) {
  const [url, setUrl] = useState(webhook?.url ?? 'https://');
  const [description, setDescription] = useState(webhook?.description ?? '');
  const [enabled, setEnabled] = useState(webhook?.enabled ?? true);
  const [all, setAll] = useState(webhook ? webhook.events.includes('*') : false);
  const [events, setEvents] = useState<string[]>(webhook?.events.filter((e) => e !== '*') ?? []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);

  const field = (name: string) => (error instanceof ApiError ? error.fieldError(`body.${name}`) : undefined);
  const eventsError =
    field('events') ??
    (error instanceof ApiError
      ? error.details.find((d) => d.path.startsWith('body.events'))?.message
      : undefined);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const body = {
      url: url.trim(),
      description,
      enabled,
      events: all ? ['*' as const] : (events as never[]),
    };
    try {
      if (webhook) onSaved(await api.updateWebhook(webhook, body));
      else {
        const r = await api.createWebhook(body);
        onSaved(r.webhook, r.secret);
      }
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <ErrorBanner error={error} />
      <FormField
        label="Endpoint URL"
        hint="https:// only (http:// is accepted for 127.0.0.1 and localhost). No credentials in the URL."
        error={field('url')}
      >
        <input type="url" value={url} required spellCheck={false} onChange={(e) => setUrl(e.target.value)} />
      </FormField>
      <FormField label="Description" error={field('description')}>
        <input
          type="text"
          value={description}
          maxLength={500}
          onChange={(e) => setDescription(e.target.value)}
        />
      </FormField>
      <fieldset className="field plain" aria-describedby={eventsError ? 'wh-events-err' : undefined}>
        <legend className="label">Events</legend>
        <label className="checkbox">
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
          All events, including ones added later
        </label>
        {WEBHOOK_EVENT_TYPES.map((t) => (
          <label className="checkbox" key={t}>
            <input
              type="checkbox"
              disabled={all}
              checked={all || events.includes(t)}
              onChange={(e) => setEvents((xs) => (e.target.checked ? [...xs, t] : xs.filter((x) => x !== t)))}
            />
            {EVENT_LABELS[t]} <code className="muted">{t}</code>
          </label>
        ))}
        {eventsError && (
          <span className="error" id="wh-events-err">
            {eventsError}
          </span>
        )}
      </fieldset>
      <label className="checkbox field">
        <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} />
        Enabled
      </label>
      <div className="form-actions">
        <Button onClick={onCancel} disabled={busy}>
          Cancel
        </Button>
        <Button type="submit" variant="primary" busy={busy}>
          {webhook ? 'Save endpoint' : 'Add endpoint'}
        </Button>
      </div>
    </form>
  );
}
