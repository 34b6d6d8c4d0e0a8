import { COMPLIANCE_ACTION_DEFAULTS, COMPLIANCE_RULES, type ComplianceAction } from '@enclave/protocol';
import { Button, FormField } from '../../components';
import { COMPLIANCE_ACTION_LABELS, COMPLIANCE_RULE_LABELS, type PolicyForm } from './policy-form';

// The policy editor's two table-like sections: platforms and versions, and compliance actions.

export interface SectionProps {
  form: PolicyForm;
  set: (patch: Partial<PolicyForm>) => void;
  errors: Record<string, string>;
}

export function PlatformSection({ form, set, errors }: SectionProps) {
  const rows = form.minOsVersion;
  const setRow = (i: number, patch: Partial<{ platform: string; version: string }>) =>
    set({ minOsVersion: rows.map((r, j) => (j === i ? { ...r, ...patch } : r)) });
  return (
    <section className="card" aria-labelledby="pol-platforms">
      <h2 id="pol-platforms">Platforms and versions</h2>
      <div className="grid grid-2">
        <FormField
          label="Allowed platforms"
          hint="Comma-separated, as devices report them (ios, android, node-linux…). Empty allows any."
          error={errors.allowedPlatforms}
        >
          <input
            type="text"
            value={form.allowedPlatforms}
            spellCheck={false}
            onChange={(e) => set({ allowedPlatforms: e.target.value })}
          />
        </FormField>
        <FormField
          label="Minimum Enclave client version"
          hint="For example 1.4.0. Empty allows any."
          error={errors.minClientVersion}
        >
          <input
            type="text"
            value={form.minClientVersion}
            spellCheck={false}
            onChange={(e) => set({ minClientVersion: e.target.value })}
          />
        </FormField>
      </div>
      <h3 id="pol-minos">Minimum OS version per platform</h3>
      <p className="muted small">A platform not listed has no minimum.</p>
      {rows.length > 0 && (
        <table className="data compact" aria-labelledby="pol-minos">
          <thead>
            <tr>
              <th scope="col">Platform</th>
              <th scope="col">Minimum version</th>
              <th scope="col">
                <span className="visually-hidden">Remove</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => (
              <tr key={i}>
                <td>
                  <input
                    type="text"
                    aria-label={`Platform ${i + 1}`}
                    value={r.platform}
                    spellCheck={false}
                    onChange={(e) => setRow(i, { platform: e.target.value })}
                  />
                </td>
                <td>
                  <input
                    type="text"
                    aria-label={`Minimum version for ${r.platform || `platform ${i + 1}`}`}
                    value={r.version}
                    spellCheck={false}
                    onChange={(e) => setRow(i, { version: e.target.value })}
                  />
                </td>
                <td>
                  <Button
                    size="small"
                    aria-label={`Remove the minimum for ${r.platform || `platform ${i + 1}`}`}
                    onClick={() => set({ minOsVersion: rows.filter((_, j) => j !== i) })}
                  >
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {errors.minOsVersion && <p className="error-text">{errors.minOsVersion}</p>}
      <Button size="small" onClick={() => set({ minOsVersion: [...rows, { platform: '', version: '' }] })}>
        Add an OS minimum
      </Button>
    </section>
  );
}

export function ComplianceSection({ form, set, errors }: SectionProps) {
  return (
    <section className="card" aria-labelledby="pol-compliance">
      <h2 id="pol-compliance">Compliance actions</h2>
      <p className="muted small">
        What the server does once a device has broken a rule for longer than the grace period. “Default” keeps
        the built-in action.
      </p>
      <div className="table-scroll" role="region" aria-label="Compliance action per rule" tabIndex={0}>
        <table className="data compact">
          <caption className="visually-hidden">Compliance action per rule</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Action</th>
              <th scope="col">Grace period (min)</th>
            </tr>
          </thead>
          <tbody>
            {COMPLIANCE_RULES.map((rule) => {
              const v = form.complianceActions[rule];
              const def = COMPLIANCE_ACTION_DEFAULTS[rule];
              const err = errors[`complianceActions.${rule}`];
              return (
                <tr key={rule}>
                  <th scope="row" className="plain-th">
                    {COMPLIANCE_RULE_LABELS[rule]}
                    {err && (
                      <span className="error" id={`err-${rule}`}>
                        {err}
                      </span>
                    )}
                  </th>
                  <td>
                    <select
                      aria-label={`Action for ${COMPLIANCE_RULE_LABELS[rule]}`}
                      value={v.action}
                      aria-invalid={err ? true : undefined}
                      aria-describedby={err ? `err-${rule}` : undefined}
                      onChange={(e) =>
                        set({
                          complianceActions: {
                            ...form.complianceActions,
                            [rule]: {
                              action: e.target.value as ComplianceAction | '',
                              graceMinutes: v.graceMinutes || String(def.graceMinutes),
                            },
                          },
                        })
                      }
                    >
                      <option value="">
                        Default: {COMPLIANCE_ACTION_LABELS[def.action]}, {def.graceMinutes} min
                      </option>
                      {Object.entries(COMPLIANCE_ACTION_LABELS).map(([a, label]) => (
                        <option key={a} value={a}>
                          {label}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>
                    <input
                      type="number"
                      inputMode="numeric"
                      min={0}
                      max={525600}
                      aria-label={`Grace period in minutes for ${COMPLIANCE_RULE_LABELS[rule]}`}
                      disabled={v.action === ''}
                      value={v.action === '' ? String(def.graceMinutes) : v.graceMinutes}
                      onChange={(e) =>
                        set({
                          complianceActions: {
                            ...form.complianceActions,
                            [rule]: { ...v, graceMinutes: e.target.value },
                          },
                        })
                      }
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </section>
  );
}
