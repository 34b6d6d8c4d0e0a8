import { useState, type FormEvent } from 'react';
import type { Settings } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useSession } from '../../auth/session';
import { Banner, Button, ErrorBanner, FormField, PageHeader, Skeleton, useToast } from '../../components';
import { fmtDateTime, fmtRelative } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { CopyButton } from './CopyButton';

/** Organisation name, activation defaults (editable with settings:write), CA and TLS certificates. */
export function SettingsPage() {
  const settings = useAsync(() => api.settings(), []);
  return (
    <>
      <PageHeader
        title="Settings"
        description="Organisation details, defaults for new activations, and the certificates devices pin."
      />
      <ErrorBanner error={settings.error} onRetry={settings.reload} />
      {settings.data ? (
        <div className="stack">
          <GeneralForm
            key={JSON.stringify(settings.data)}
            settings={settings.data}
            onSaved={settings.reload}
          />
          <div className="grid grid-2">
            <CertificateCard
              id="ca"
              title="Certificate authority"
              hint="Devices and the CLI pin this fingerprint at activation (--ca-fingerprint)."
              cert={settings.data.ca}
            />
            <CertificateCard
              id="tls"
              title="TLS certificate"
              hint="What this server presents on its HTTPS port."
              cert={settings.data.tls}
            />
          </div>
        </div>
      ) : (
        !settings.error && (
          <div className="card" aria-busy="true">
            <Skeleton width="40%" />
          </div>
        )
      )}
    </>
  );
}

function GeneralForm({ settings, onSaved }: { settings: Settings; onSaved: () => void }) {
  const { can, setOrganization } = useSession();
  const toast = useToast();
  const mayWrite = can('settings:write');
  const [organization, setOrg] = useState(settings.organization);
  const [ttl, setTtl] = useState(String(settings.activation.defaultTtlHours));
  const [limit, setLimit] = useState(String(settings.activation.defaultDeviceLimit));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const field = (n: string) => (error instanceof ApiError ? error.fieldError(`body.${n}`) : undefined);
  const dirty =
    organization !== settings.organization ||
    ttl !== String(settings.activation.defaultTtlHours) ||
    limit !== String(settings.activation.defaultDeviceLimit);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const saved = await api.updateSettings({
        organization,
        activation: { defaultTtlHours: Number(ttl), defaultDeviceLimit: Number(limit) },
      });
      setOrganization(saved.organization);
      toast.info('Settings saved.');
      onSaved();
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="set-general">
      <h2 id="set-general">Organisation and activation defaults</h2>
      {!mayWrite && <Banner tone="info">Your role can read these settings but not change them.</Banner>}
      <form onSubmit={(e) => void submit(e)} noValidate>
        <fieldset disabled={!mayWrite} className="plain">
          <ErrorBanner error={error} />
          <div className="grid grid-3">
            <FormField
              label="Organisation name"
              hint="Shown in the console and the portal."
              error={field('organization')}
            >
              <input
                type="text"
                value={organization}
                maxLength={100}
                onChange={(e) => setOrg(e.target.value)}
              />
            </FormField>
            <FormField
              label="Activation password lifetime (hours)"
              hint="Default for new activation passwords: 1 to 720."
              error={field('activation.defaultTtlHours')}
            >
              <input
                type="number"
                min={1}
                max={720}
                inputMode="numeric"
                value={ttl}
                onChange={(e) => setTtl(e.target.value)}
              />
            </FormField>
            <FormField
              label="Devices per user"
              hint="Upper limit for every user (1 to 100); a policy may set a lower one."
              error={field('activation.defaultDeviceLimit')}
            >
              <input
                type="number"
                min={1}
                max={100}
                inputMode="numeric"
                value={limit}
                onChange={(e) => setLimit(e.target.value)}
              />
            </FormField>
          </div>
          {mayWrite && (
            <div className="form-actions">
              <Button type="submit" variant="primary" busy={busy} disabled={!dirty}>
                Save settings
              </Button>
            </div>
          )}
        </fieldset>
      </form>
    </section>
  );
}

function CertificateCard({
  id,
  title,
  hint,
  cert,
}: {
  id: string;
  title: string;
  hint: string;
  cert: { subject: string; fingerprint: string; notBefore: string; notAfter: string; dnsNames?: string[] };
}) {
  const expiresSoon = Date.parse(cert.notAfter) - Date.now() < 30 * 86_400_000;
  return (
    <section className="card" aria-labelledby={`cert-${id}`} data-testid={`cert-${id}`}>
      <h2 id={`cert-${id}`}>{title}</h2>
      <p className="muted small">{hint}</p>
      {expiresSoon && (
        <Banner tone="warn">Expires {fmtRelative(cert.notAfter)}: renew it before then.</Banner>
      )}
      <dl className="props">
        <dt>Subject</dt>
        <dd className="mono">{cert.subject}</dd>
        <dt>SHA-256 fingerprint</dt>
        <dd>
          <div className="row nowrap-row">
            <code className="break grow">{cert.fingerprint}</code>
            <CopyButton text={cert.fingerprint} what={`the ${title} fingerprint`} />
          </div>
        </dd>
        <dt>Valid from</dt>
        <dd>{fmtDateTime(cert.notBefore)}</dd>
        <dt>Valid until</dt>
        <dd>
          {fmtDateTime(cert.notAfter)} <span className="muted small">({fmtRelative(cert.notAfter)})</span>
        </dd>
        {cert.dnsNames && (
          <>
            <dt>Names</dt>
            <dd className="mono">{cert.dnsNames.join(', ') || '—'}</dd>
          </>
        )}
      </dl>
    </section>
  );
}
