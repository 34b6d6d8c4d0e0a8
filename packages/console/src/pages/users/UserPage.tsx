import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { UserUpdateSchema, type Device, type User } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
  ConfirmDialog,
  DataTable,
  Dialog,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  Skeleton,
  StatusBadge,
  fieldErrors,
  useToast,
} from '../../components';
import { fmtDateTime, fmtRelative, humanize } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { ActivationPasswordDialog } from './ActivationPasswordDialog';

const EXPIRY_CHOICES = [
  { label: 'Installation default', seconds: 0 },
  { label: '1 hour', seconds: 3600 },
  { label: '24 hours', seconds: 24 * 3600 },
  { label: '48 hours', seconds: 48 * 3600 },
  { label: '7 days', seconds: 7 * 24 * 3600 },
  { label: '30 days', seconds: 30 * 24 * 3600 },
];

/** One user: details, devices, activation passwords (create: shown once with its QR), groups, effective policy. */
export function UserPage() {
  const { id = '' } = useParams();
  const can = useCan();
  const navigate = useNavigate();
  const toast = useToast();
  const user = useAsync(() => api.user({ id }), [id]);
  const u = user.data;
  const devices = useAsync(() => api.devices({ userId: id, limit: 100 }), [id]);
  const activations = useAsync(() => (u ? api.activations(u.email) : Promise.resolve(null)), [u?.email]);
  const policy = useAsync(
    () => (can('policies:read') ? api.effectivePolicy({ userId: id }) : Promise.resolve(null)),
    [id],
  );
  const [dialog, setDialog] = useState<'edit' | 'delete' | 'activation' | 'invite' | null>(null);
  const [created, setCreated] = useState<Awaited<ReturnType<typeof api.createActivation>> | null>(null);
  const [invitation, setInvitation] = useState<Awaited<ReturnType<typeof api.inviteUser>> | null>(null);
  const [expiry, setExpiry] = useState(0);
  const [creating, setCreating] = useState(false);

  if (user.error && !u)
    return (
      <>
        <PageHeader title="User" back={{ to: '/users', label: 'Users' }} />
        <ErrorBanner error={user.error} onRetry={user.reload} />
      </>
    );

  const createActivation = async () => {
    if (!u) return;
    setCreating(true);
    try {
      const c = await api.createActivation({
        email: u.email,
        ...(expiry ? { expiresInSeconds: expiry } : {}),
      });
      setCreated(c);
      activations.reload();
    } catch (err) {
      toast.error(err instanceof Error ? err.message : 'The activation password could not be created.');
    } finally {
      setCreating(false);
    }
  };

  return (
    <>
      <PageHeader
        title={u?.name ?? 'User'}
        back={{ to: '/users', label: 'Users' }}
        description={u?.email}
        actions={
          u &&
          can('users:write') && (
            <>
              <Button onClick={() => setDialog('invite')}>Invite to portal</Button>
              <Button onClick={() => setDialog('edit')}>Edit</Button>
              <Button variant="danger" onClick={() => setDialog('delete')}>
                Delete
              </Button>
            </>
          )
        }
      />
      <div className="stack">
        <div className="grid grid-2">
          <section className="card" aria-labelledby="details-h">
            <h2 id="details-h">Details</h2>
            {u ? (
              <dl className="props">
                <dt>Email</dt>
                <dd>{u.email}</dd>
                <dt>Groups</dt>
                <dd>
                  {u.groups.length ? (
                    u.groups.map((g, i) => (
                      <span key={g}>
                        {i > 0 && ', '}
                        <Link to={`/users?group=${encodeURIComponent(g)}`}>{g}</Link>
                      </span>
                    ))
                  ) : (
                    <span className="muted">No groups</span>
                  )}
                </dd>
                <dt>Devices</dt>
                <dd>{u.deviceCount}</dd>
                <dt>Added</dt>
                <dd>{fmtDateTime(u.createdAt)}</dd>
                <dt>Last changed</dt>
                <dd>{fmtDateTime(u.updatedAt)}</dd>
              </dl>
            ) : (
              <Skeleton width="100%" height="100px" />
            )}
          </section>
          <section className="card" aria-labelledby="policy-h">
            <h2 id="policy-h">Effective policy</h2>
            {!can('policies:read') ? (
              <p className="muted">Your role does not include policies.</p>
            ) : policy.error ? (
              <ErrorBanner error={policy.error} />
            ) : policy.data ? (
              <>
                <dl className="props">
                  <dt>Policy</dt>
                  <dd>
                    <Link to={`/policies/${policy.data.policy.id}`}>{policy.data.policy.name}</Link>{' '}
                    <span className="muted small">version {policy.data.policy.version}</span>
                  </dd>
                  <dt>Comes from</dt>
                  <dd>
                    {policy.data.source.kind === 'group'
                      ? `group ${policy.data.source.groupName ?? ''} (rank ${policy.data.source.rank ?? '—'})`
                      : policy.data.source.kind === 'user'
                        ? 'assigned to this user directly'
                        : 'the default policy'}
                  </dd>
                </dl>
                <p className="muted small" style={{ marginTop: 12 }}>
                  {policy.data.explanation}
                </p>
              </>
            ) : (
              <Skeleton width="100%" height="60px" />
            )}
          </section>
        </div>

        <section aria-labelledby="devices-h" className="stack" style={{ gap: 8 }}>
          <h2 id="devices-h">Devices</h2>
          <ErrorBanner error={devices.error} onRetry={devices.reload} />
          <DataTable<Device>
            caption={`Devices of ${u?.name ?? 'this user'}`}
            testId="user-devices-table"
            rows={devices.data?.items}
            loading={devices.loading}
            rowKey={(d) => d.id}
            columns={[
              { header: 'Device', cell: (d) => <Link to={`/devices/${d.id}`}>{d.name || d.platform}</Link> },
              { header: 'Platform', cell: (d) => d.platform },
              { header: 'Status', cell: (d) => <StatusBadge status={d.status} /> },
              { header: 'Compliance', cell: (d) => <StatusBadge status={d.compliance} /> },
              { header: 'Last contact', cell: (d) => fmtRelative(d.lastContactAt) },
            ]}
            empty={
              <EmptyState title="No devices yet">
                Create an activation password below; the device appears here once it activates.
              </EmptyState>
            }
          />
        </section>

        <section className="card" aria-labelledby="act-h">
          <div className="card-header">
            <h2 id="act-h">Activation passwords</h2>
          </div>
          {can('activations:create') && u && (
            <div className="toolbar">
              <FormField label="Valid for">
                <select value={expiry} onChange={(e) => setExpiry(Number(e.target.value))}>
                  {EXPIRY_CHOICES.map((c) => (
                    <option key={c.seconds} value={c.seconds}>
                      {c.label}
                    </option>
                  ))}
                </select>
              </FormField>
              <Button variant="primary" busy={creating} onClick={() => void createActivation()}>
                Create activation password
              </Button>
            </div>
          )}
          <ErrorBanner error={activations.error} onRetry={activations.reload} />
          {!activations.data ? (
            <Skeleton width="100%" height="48px" />
          ) : activations.data.items.length === 0 ? (
            <p className="muted">None yet. An activation password lets this user enrol one device.</p>
          ) : (
            <div style={{ overflowX: 'auto' }} role="region" aria-label="Activation passwords" tabIndex={0}>
              <table className="data" data-testid="activations-table">
                <caption className="visually-hidden">Activation passwords</caption>
                <thead>
                  <tr>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                    <th scope="col">Expires</th>
                    <th scope="col" className="num">
                      Wrong tries
                    </th>
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {activations.data.items.map((a) => (
                    <tr key={a.id}>
                      <td>
                        <StatusBadge status={a.status} />
                      </td>
                      <td>{fmtDateTime(a.createdAt)}</td>
                      <td>
                        {a.status === 'used' ? `used ${fmtRelative(a.usedAt)}` : fmtDateTime(a.expiresAt)}
                      </td>
                      <td className="num">{a.failedAttempts}</td>
                      <td>
                        {a.status === 'live' && can('activations:create') && (
                          <Button
                            size="small"
                            onClick={() =>
                              void api.deleteActivation({ id: a.id }).then(
                                () => {
                                  toast.info('Activation password revoked');
                                  activations.reload();
                                },
                                (e: unknown) => toast.error(e instanceof Error ? e.message : 'Revoke failed'),
                              )
                            }
                          >
                            Revoke
                          </Button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>
      </div>

      {created && <ActivationPasswordDialog created={created} onClose={() => setCreated(null)} />}
      {dialog === 'edit' && u && (
        <EditUserDialog
          user={u}
          onClose={() => setDialog(null)}
          onSaved={() => {
            user.reload();
            policy.reload();
          }}
        />
      )}
      {dialog === 'delete' && u && (
        <ConfirmDialog
          title={`Delete ${u.name}?`}
          confirmLabel="Delete user"
          destructive
          onClose={() => setDialog(null)}
          onConfirm={async () => {
            await api.deleteUser({ id });
            toast.info(`${u.name} deleted`);
            void navigate('/users');
          }}
        >
          <p>
            The user and their activation passwords are removed. A user who still has devices cannot be
            deleted: revoke the devices first.
          </p>
        </ConfirmDialog>
      )}
      {dialog === 'invite' && u && (
        <ConfirmDialog
          title={`Invite ${u.name} to the self-service portal?`}
          confirmLabel="Create invitation"
          onClose={() => setDialog(null)}
          onConfirm={async () => setInvitation(await api.inviteUser({ id }))}
        >
          <p>
            Creates a one-time invitation code. The employee opens <code>/portal</code>, chooses “I have an
            invitation”, and sets their own password.
          </p>
        </ConfirmDialog>
      )}
      {invitation && (
        <Dialog title="Invitation code" onClose={() => setInvitation(null)}>
          <Banner tone="warn">
            Shown only now. Give it to <strong>{invitation.userEmail}</strong>; it works once, until{' '}
            {fmtDateTime(invitation.expiresAt)}.
          </Banner>
          <p className="secret" data-testid="invitation-code">
            {invitation.code}
          </p>
          <div className="form-actions">
            <Button variant="primary" onClick={() => setInvitation(null)} autoFocus>
              Done
            </Button>
          </div>
        </Dialog>
      )}
    </>
  );
}

function EditUserDialog({
  user,
  onClose,
  onSaved,
}: {
  user: User;
  onClose: () => void;
  onSaved: () => void;
}) {
  const toast = useToast();
  const groups = useAsync(() => api.groups({ limit: 500 }), []);
  const [email, setEmail] = useState(user.email);
  const [name, setName] = useState(user.name);
  const [selected, setSelected] = useState<string[]>(user.groups);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = { email, name, groups: selected };
    const parsed = UserUpdateSchema.safeParse(body);
    if (!parsed.success) return setErrors(fieldErrors(parsed.error.issues));
    setErrors({});
    setBusy(true);
    setError(null);
    try {
      await api.updateUser({ id: user.id }, body);
      toast.info('Changes saved');
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.code === 'email_taken') setErrors({ email: err.message });
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Edit ${user.name}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <ErrorBanner error={error} />
        <FormField label="Email" error={errors.email}>
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </FormField>
        <FormField label="Full name" error={errors.name}>
          <input type="text" value={name} onChange={(e) => setName(e.target.value)} />
        </FormField>
        <fieldset className="field" style={{ border: 0, padding: 0 }}>
          <legend className="label">Groups</legend>
          {groups.data?.items.length === 0 && <span className="muted">No groups exist yet.</span>}
          {groups.data?.items.map((g) => (
            <label key={g.id} className="checkbox">
              <input
                type="checkbox"
                checked={selected.includes(g.name)}
                onChange={(e) =>
                  setSelected((s) => (e.target.checked ? [...s, g.name] : s.filter((x) => x !== g.name)))
                }
              />
              {g.name}
            </label>
          ))}
          {errors.groups && <span className="error">{humanize(errors.groups)}</span>}
        </fieldset>
        <div className="form-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy}>
            Save
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
