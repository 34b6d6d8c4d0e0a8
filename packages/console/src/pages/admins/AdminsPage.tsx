import { useState, type FormEvent } from 'react';
import { type Admin, canGrantRole, ROLES, type Role } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useSession } from '../../auth/session';
import { ROLE_LABELS } from '../../auth/permissions';
import {
  Button,
  ConfirmDialog,
  DataTable,
  Dialog,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  StatusBadge,
  useToast,
} from '../../components';
import { fmtDate } from '../../lib/format';
import { useAsync } from '../../lib/hooks';
import { RoleMatrix } from './RoleMatrix';

/**
 * Administrators and their roles. Managing them (create, change role, remove) needs admins:manage —
 * the Security Administrator; a role can only be granted by someone who holds all its permissions,
 * and the last Security Administrator cannot be demoted or removed (the server refuses; its message
 * is shown).
 */
export function AdminsPage() {
  const { admin: me, can } = useSession();
  const toast = useToast();
  const mayManage = can('admins:manage');
  const list = useAsync(() => api.admins(), []);
  const [creating, setCreating] = useState(false);
  const [changing, setChanging] = useState<Admin | null>(null);
  const [removing, setRemoving] = useState<Admin | null>(null);
  const grantable = ROLES.filter((r) => me && canGrantRole(me.role, r));

  return (
    <>
      <PageHeader
        title="Administrators & roles"
        description="Who can sign in to this console and what each role may do."
        actions={
          mayManage && (
            <Button variant="primary" onClick={() => setCreating(true)}>
              Add administrator
            </Button>
          )
        }
      />
      <ErrorBanner error={list.error} onRetry={list.reload} />
      <DataTable<Admin>
        caption="Administrators"
        testId="admins-table"
        loading={list.loading}
        rows={list.data?.items}
        rowKey={(a) => a.id}
        empty={<EmptyState title="No administrators" />}
        columns={[
          {
            header: 'Email',
            cell: (a) => (
              <span>
                {a.email} {a.id === me?.id && <span className="muted small">(you)</span>}
              </span>
            ),
          },
          { header: 'Role', cell: (a) => ROLE_LABELS[a.role] },
          {
            header: 'Two-factor',
            cell: (a) =>
              a.totpEnabled ? (
                <StatusBadge status="totp-on" tone="ok" label="TOTP on" />
              ) : (
                <StatusBadge status="totp-off" tone="warn" label="Not enrolled" />
              ),
          },
          { header: 'Added', cell: (a) => <span className="nowrap">{fmtDate(a.createdAt)}</span> },
          ...(mayManage
            ? [
                {
                  header: 'Actions',
                  cell: (a: Admin) => (
                    <div className="row">
                      <Button
                        size="small"
                        onClick={() => setChanging(a)}
                        aria-label={`Change role of ${a.email}`}
                      >
                        Change role
                      </Button>
                      {a.id !== me?.id && (
                        <Button size="small" onClick={() => setRemoving(a)} aria-label={`Remove ${a.email}`}>
                          Remove
                        </Button>
                      )}
                    </div>
                  ),
                },
              ]
            : []),
        ]}
      />

      <RoleMatrix />

      {creating && (
        <CreateAdminDialog
          grantable={grantable}
          onClose={() => setCreating(false)}
          onCreated={(a) => {
            setCreating(false);
            toast.info(`Added ${a.email} as ${ROLE_LABELS[a.role]}.`);
            list.reload();
          }}
        />
      )}
      {changing && (
        <ChangeRoleDialog
          admin={changing}
          isSelf={changing.id === me?.id}
          grantable={grantable}
          onClose={() => setChanging(null)}
          onChanged={(a) => {
            setChanging(null);
            toast.info(`${a.email} is now ${ROLE_LABELS[a.role]}.`);
            list.reload();
          }}
        />
      )}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.email}?`}
          confirmLabel="Remove administrator"
          destructive
          typeToConfirm={removing.email}
          onClose={() => setRemoving(null)}
          onConfirm={async () => {
            await api.deleteAdmin(removing);
            toast.info(`Removed ${removing.email}.`);
            list.reload();
          }}
        >
          <p>They can no longer sign in; their past actions stay in the audit log.</p>
        </ConfirmDialog>
      )}
    </>
  );
}

/** A role picker offering only the roles the signed-in admin may grant. FormField's id/aria props pass through. */
function RoleSelect({
  value,
  onChange,
  grantable,
  ...rest
}: {
  value: Role;
  onChange: (r: Role) => void;
  grantable: Role[];
  [aria: string]: unknown;
}) {
  return (
    <select {...rest} value={value} onChange={(e) => onChange(e.target.value as Role)}>
      {grantable.map((r) => (
        <option key={r} value={r}>
          {ROLE_LABELS[r]}
        </option>
      ))}
    </select>
  );
}

function CreateAdminDialog({
  grantable,
  onClose,
  onCreated,
}: {
  grantable: Role[];
  onClose: () => void;
  onCreated: (a: Admin) => void;
}) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>(
    grantable.includes('junior-helpdesk') ? 'junior-helpdesk' : (grantable[0] ?? 'auditor'),
  );
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const field = (n: string) => (error instanceof ApiError ? error.fieldError(`body.${n}`) : undefined);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await api.createAdmin({ email, role, password }));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  return (
    <Dialog title="Add an administrator" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <ErrorBanner error={error} />
        <FormField label="Email" error={field('email')}>
          <input type="email" autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} />
        </FormField>
        <FormField label="Role" hint="Only roles whose permissions you hold yourself." error={field('role')}>
          <RoleSelect value={role} onChange={setRole} grantable={grantable} />
        </FormField>
        <FormField
          label="Initial password"
          hint="At least 12 characters. Give it to them over a separate channel; they enrol two-factor sign-in at their first sign-in."
          error={field('password')}
        >
          <input
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </FormField>
        <div className="form-actions">
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="primary" busy={busy}>
            Add administrator
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ChangeRoleDialog({
  admin,
  isSelf,
  grantable,
  onClose,
  onChanged,
}: {
  admin: Admin;
  isSelf: boolean;
  grantable: Role[];
  onClose: () => void;
  onChanged: (a: Admin) => void;
}) {
  const [role, setRole] = useState<Role>(
    grantable.includes(admin.role) ? admin.role : (grantable[0] ?? admin.role),
  );
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onChanged(await api.updateAdmin(admin, { role }));
    } catch (err) {
      setError(err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Change the role of ${admin.email}`} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <ErrorBanner
          error={error}
          title={
            error instanceof ApiError && error.code === 'last_security_admin' ? 'Not changed:' : undefined
          }
        />
        <p>
          Now: <strong>{ROLE_LABELS[admin.role]}</strong>. The new role applies at once; their open sessions
          end{isSelf ? ', including yours: you will sign in again' : ''}.
        </p>
        <FormField label="New role" hint="Only roles whose permissions you hold yourself.">
          <RoleSelect value={role} onChange={setRole} grantable={grantable} />
        </FormField>
        <div className="form-actions">
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant="primary" busy={busy} disabled={role === admin.role}>
            Change role
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
