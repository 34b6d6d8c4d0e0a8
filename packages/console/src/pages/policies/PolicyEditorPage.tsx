import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { useNavigate, useParams } from 'react-router';
import { POLICY_DEFAULTS, type Policy } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
  ConfirmDialog,
  ErrorBanner,
  FormField,
  PageHeader,
  useToast,
} from '../../components';
import { fmtDateTime } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { PolicyAssignments } from './PolicyAssignments';
import { ComplianceSection, PlatformSection } from './PolicySections';
import { documentFromForm, fieldErrors, formFromPolicy, type PolicyForm, SECTIONS } from './policy-form';

/** `/policies/new` creates; `/policies/:id` edits one policy, its assignments and shows who it affects. */
export function PolicyEditorPage() {
  const { id = 'new' } = useParams();
  const isNew = id === 'new';
  const loaded = useAsync(() => (isNew ? Promise.resolve(null) : api.policy({ id })), [id]);
  const policy = loaded.data ?? null;
  if (!isNew && loaded.error && !policy)
    return (
      <>
        <PageHeader title="Policy" back={{ to: '/policies', label: 'Policies' }} />
        <ErrorBanner error={loaded.error} onRetry={loaded.reload} />
      </>
    );
  if (!isNew && !policy)
    return (
      <div aria-busy="true">
        <PageHeader title="Policy" back={{ to: '/policies', label: 'Policies' }} />
        <span className="skeleton" style={{ width: '60%', height: '200px' }} />
      </div>
    );
  return (
    <Editor key={policy ? `${policy.id}@${policy.version}` : 'new'} policy={policy} onSaved={loaded.reload} />
  );
}

function Editor({ policy, onSaved }: { policy: Policy | null; onSaved: () => void }) {
  const can = useCan();
  const toast = useToast();
  const navigate = useNavigate();
  const mayWrite = can('policies:write');
  const initial = useMemo(
    () =>
      policy
        ? formFromPolicy(policy.name, policy.description, policy.document)
        : formFromPolicy('', '', POLICY_DEFAULTS),
    [policy],
  );
  const [form, setForm] = useState<PolicyForm>(initial);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const dirty = JSON.stringify(form) !== JSON.stringify(initial);
  const affected = useAsync(
    () => (policy ? api.policyAffected(policy) : Promise.resolve(null)),
    [policy?.id],
  );

  // Warn before leaving the page with unsaved changes (reload, closing the tab).
  useEffect(() => {
    if (!dirty) return;
    const stop = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', stop);
    return () => window.removeEventListener('beforeunload', stop);
  }, [dirty]);

  const set = (patch: Partial<PolicyForm>) => setForm((f) => ({ ...f, ...patch }));

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setErrors({});
    setError(null);
    const body = {
      name: form.name,
      description: form.description,
      // The server validates the document as a whole and names each wrong setting.
      document: documentFromForm(form) as never,
    };
    try {
      const saved = policy ? await api.updatePolicy(policy, body) : await api.createPolicy(body);
      toast.info(`Saved ${saved.name} (version ${saved.version}).`);
      if (!policy) void navigate(`/policies/${saved.id}`, { replace: true });
      else onSaved();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'validation_failed') {
        const byField = fieldErrors(err.details);
        setErrors(byField);
        setError(
          new Error(
            `${Object.keys(byField).length === 1 ? 'One setting is' : 'Some settings are'} not valid: see the messages next to ${Object.keys(byField).length === 1 ? 'it' : 'them'}.`,
          ),
        );
      } else if (err instanceof ApiError && err.code === 'policy_name_taken') {
        setErrors({ name: err.message });
        setError(err);
      } else setError(err instanceof Error ? err : new Error(String(err)));
    } finally {
      setSaving(false);
    }
  };

  const title = policy ? policy.name : 'New policy';
  const affectedCount = affected.data?.total;
  return (
    <>
      <PageHeader
        title={title}
        back={{ to: '/policies', label: 'Policies' }}
        description={
          policy ? (
            <>
              Version {policy.version} · updated {fmtDateTime(policy.updatedAt)}
              {policy.isDefault && ' · the default policy: applies to everyone without another policy'}
            </>
          ) : (
            'Starts from the recommended baseline; change what your organisation needs.'
          )
        }
        actions={
          policy &&
          mayWrite &&
          !policy.isDefault && (
            <Button variant="danger" onClick={() => setDeleting(true)}>
              Delete policy
            </Button>
          )
        }
      />
      {!mayWrite && <Banner tone="info">Your role can read policies but not change them.</Banner>}
      <form onSubmit={(e) => void save(e)} noValidate aria-label="Policy settings" data-testid="policy-form">
        <fieldset disabled={!mayWrite} className="stack plain">
          <ErrorBanner error={error} />
          <section className="card" aria-labelledby="pol-general">
            <h2 id="pol-general">General</h2>
            <div className="grid grid-2">
              <FormField label="Name" error={errors.name}>
                <input
                  type="text"
                  value={form.name}
                  required
                  onChange={(e) => set({ name: e.target.value })}
                />
              </FormField>
              <FormField label="Description" error={errors.description}>
                <input
                  type="text"
                  value={form.description}
                  onChange={(e) => set({ description: e.target.value })}
                />
              </FormField>
            </div>
          </section>

          {SECTIONS.map((s) => (
            <section className="card" key={s.title} aria-labelledby={`pol-${s.title}`}>
              <h2 id={`pol-${s.title}`}>{s.title}</h2>
              <div className="grid grid-3">
                {s.numbers.map((f) => (
                  <FormField
                    key={f.key}
                    label={f.unit ? `${f.label} (${f.unit})` : f.label}
                    hint={f.hint}
                    error={errors[f.key]}
                  >
                    <input
                      type="number"
                      inputMode="numeric"
                      min={f.min}
                      max={f.max}
                      step={1}
                      name={f.key}
                      value={form.numbers[f.key]}
                      onChange={(e) => set({ numbers: { ...form.numbers, [f.key]: e.target.value } })}
                    />
                  </FormField>
                ))}
              </div>
              <div className="checks">
                {s.booleans.map((f) => (
                  <div className="field" key={f.key}>
                    <label className="checkbox">
                      <input
                        type="checkbox"
                        name={f.key}
                        checked={form.booleans[f.key]}
                        onChange={(e) => set({ booleans: { ...form.booleans, [f.key]: e.target.checked } })}
                        aria-describedby={`hint-${f.key}`}
                      />
                      {f.label}
                    </label>
                    <span className="hint" id={`hint-${f.key}`}>
                      {f.hint}
                    </span>
                    {errors[f.key] && <span className="error">{errors[f.key]}</span>}
                  </div>
                ))}
              </div>
            </section>
          ))}

          <PlatformSection form={form} set={set} errors={errors} />
          <ComplianceSection form={form} set={set} errors={errors} />

          {mayWrite && (
            <div className="card save-bar">
              <p className="muted small" role="status">
                {dirty ? 'Unsaved changes. ' : 'No unsaved changes. '}
                {policy &&
                  affectedCount !== undefined &&
                  (affectedCount === 0
                    ? 'No user has this policy yet, so saving changes no device.'
                    : `Saving applies to ${affectedCount === 1 ? '1 user' : `${affectedCount} users`} and their devices at their next check-in.`)}
              </p>
              <div className="form-actions">
                <Button onClick={() => setForm(initial)} disabled={!dirty || saving}>
                  Discard changes
                </Button>
                <Button type="submit" variant="primary" busy={saving}>
                  {policy ? 'Save policy' : 'Create policy'}
                </Button>
              </div>
            </div>
          )}
        </fieldset>
      </form>

      {policy && <PolicyAssignments policy={policy} affected={affected} onChanged={onSaved} />}

      {deleting && policy && (
        <ConfirmDialog
          title={`Delete ${policy.name}?`}
          confirmLabel="Delete policy"
          destructive
          typeToConfirm={policy.name}
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await api.deletePolicy(policy);
            toast.info(`Deleted ${policy.name}.`);
            void navigate('/policies');
          }}
        >
          <p>
            {affectedCount
              ? `${affectedCount === 1 ? '1 user falls' : `${affectedCount} users fall`} back to their next group policy or the default policy.`
              : 'No user has this policy as their effective policy.'}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
