import { useState, type FormEvent } from 'react';
import { Link, useSearchParams } from 'react-router';
import { GroupCreateSchema, type Group } from '@enclave/protocol';
import { api } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Button,
  ConfirmDialog,
  DataTable,
  Dialog,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  fieldErrors,
  useToast,
} from '../../components';
import { fmtDate, fmtNumber } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

const PAGE = 50;

/** Groups: the unit policies are assigned to. */
export function GroupsPage() {
  const can = useCan();
  const toast = useToast();
  const [params, setParams] = useSearchParams();
  const offset = Number(params.get('offset') ?? 0) || 0;
  const groups = useAsync(() => api.groups({ limit: PAGE, offset }), [offset]);
  const [editing, setEditing] = useState<Group | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Group | null>(null);
  return (
    <>
      <PageHeader
        title="Groups"
        back={{ to: '/users', label: 'Users' }}
        description="Groups carry policies: a user gets the policy of their highest-ranked group unless one is assigned to them directly."
        actions={
          can('groups:write') && (
            <Button variant="primary" onClick={() => setEditing('new')}>
              New group
            </Button>
          )
        }
      />
      <ErrorBanner error={groups.error} onRetry={groups.reload} />
      <DataTable<Group>
        caption="Groups"
        testId="groups-table"
        rows={groups.data?.items}
        loading={groups.loading}
        rowKey={(g) => g.id}
        columns={[
          { header: 'Name', cell: (g) => <strong>{g.name}</strong> },
          { header: 'Description', cell: (g) => g.description || <span className="muted">—</span> },
          {
            header: 'Members',
            numeric: true,
            cell: (g) => (
              <Link to={`/users?group=${encodeURIComponent(g.name)}`}>{fmtNumber(g.memberCount)}</Link>
            ),
          },
          { header: 'Created', cell: (g) => fmtDate(g.createdAt) },
          {
            header: 'Actions',
            cell: (g) =>
              can('groups:write') && (
                <span className="row">
                  <Button size="small" onClick={() => setEditing(g)} aria-label={`Edit ${g.name}`}>
                    Edit
                  </Button>
                  <Button size="small" onClick={() => setDeleting(g)} aria-label={`Delete ${g.name}`}>
                    Delete
                  </Button>
                </span>
              ),
          },
        ]}
        empty={
          <EmptyState title="No groups yet">
            Create groups such as “Sales” or “Executives” to assign policies.
          </EmptyState>
        }
        pagination={
          groups.data && {
            total: groups.data.total,
            limit: PAGE,
            offset,
            onPage: (o) => setParams(o ? { offset: String(o) } : {}),
          }
        }
      />
      {editing && (
        <GroupDialog
          group={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => groups.reload()}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete group ${deleting.name}?`}
          confirmLabel="Delete group"
          destructive
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.deleteGroup({ id: deleting.id });
            toast.info(`Group ${deleting.name} deleted`);
            groups.reload();
          }}
        >
          <p>
            Its {fmtNumber(deleting.memberCount)} members stay; they lose the policies assigned through this
            group.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}

function GroupDialog({
  group,
  onClose,
  onSaved,
}: {
  group: Group | null;
  onClose: () => void;
  onSaved: () => void;
}) {
  const toast = useToast();
  const [name, setName] = useState(group?.name ?? '');
  const [description, setDescription] = useState(group?.description ?? '');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const parsed = GroupCreateSchema.safeParse({ name, description });
    if (!parsed.success) return setErrors(fieldErrors(parsed.error.issues));
    setErrors({});
    setBusy(true);
    try {
      if (group) await api.updateGroup({ id: group.id }, { name, description });
      else await api.createGroup({ name, description });
      toast.info(group ? 'Group saved' : `Group ${name} created`);
      onSaved();
      onClose();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <Dialog title={group ? `Edit ${group.name}` : 'New group'} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <ErrorBanner error={error} />
        <FormField label="Name" error={errors.name}>
          <input type="text" autoFocus value={name} onChange={(e) => setName(e.target.value)} />
        </FormField>
        <FormField label="Description" error={errors.description}>
          <textarea rows={3} value={description} onChange={(e) => setDescription(e.target.value)} />
        </FormField>
        <div className="form-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy}>
            {group ? 'Save' : 'Create group'}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
