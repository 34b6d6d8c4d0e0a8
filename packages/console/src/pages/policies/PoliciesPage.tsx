import { useState } from 'react';
import { Link, useNavigate } from 'react-router';
import type { Policy } from '@enclave/protocol';
import { api } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Button,
  ConfirmDialog,
  DataTable,
  EmptyState,
  ErrorBanner,
  PageHeader,
  StatusBadge,
  useToast,
} from '../../components';
import { fmtRelative, plural } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

/** What a policy enforces, in a few words for the list. */
function summary(p: Policy): string {
  const d = p.document;
  const parts = [
    d.passcodeRequired ? `passcode ≥ ${d.minPasscodeLength}` : 'no passcode',
    `lock after ${d.autoLockMinutes} min`,
    d.deviceEncryptionRequired ? 'encryption required' : null,
    `${d.devicesPerUser} device${d.devicesPerUser === 1 ? '' : 's'} per user`,
  ];
  return parts.filter(Boolean).join(' · ');
}

function assignedTo(p: Policy): string {
  if (p.isDefault) return 'Everyone without another policy';
  const { users, groups } = p.assignments;
  if (users.length === 0 && groups.length === 0) return 'Not assigned';
  return [
    groups.length ? plural(groups.length, 'group') : null,
    users.length ? plural(users.length, 'user') : null,
  ]
    .filter(Boolean)
    .join(', ');
}

/** The IT policies, the default first: what each enforces, where it is assigned, edit and delete. */
export function PoliciesPage() {
  const can = useCan();
  const toast = useToast();
  const navigate = useNavigate();
  const list = useAsync(() => api.policies(), []);
  const [deleting, setDeleting] = useState<Policy | null>(null);
  const mayWrite = can('policies:write');

  return (
    <>
      <PageHeader
        title="Policies"
        description="IT policies set passcode, encryption, OS minimums and what happens to a device that breaks a rule. A user's direct policy wins, then the highest-ranked group policy, then the default."
        actions={
          mayWrite && (
            <Button variant="primary" onClick={() => void navigate('/policies/new')}>
              New policy
            </Button>
          )
        }
      />
      <ErrorBanner error={list.error} onRetry={list.reload} />
      <DataTable<Policy>
        caption="IT policies"
        testId="policies-table"
        loading={list.loading}
        rows={list.data?.items}
        rowKey={(p) => p.id}
        empty={<EmptyState title="No policies" />}
        columns={[
          {
            header: 'Name',
            cell: (p) => (
              <div>
                <Link to={`/policies/${p.id}`}>{p.name}</Link>{' '}
                {p.isDefault && p.name !== 'Default' && (
                  <StatusBadge status="default" tone="info" label="Default" />
                )}
                {p.description && <div className="muted small">{p.description}</div>}
              </div>
            ),
          },
          { header: 'Settings', optional: true, cell: (p) => <span className="small">{summary(p)}</span> },
          { header: 'Assigned to', cell: (p) => assignedTo(p) },
          { header: 'Version', numeric: true, optional: true, cell: (p) => p.version },
          {
            header: 'Updated',
            optional: true,
            cell: (p) => <span className="nowrap">{fmtRelative(p.updatedAt)}</span>,
          },
          ...(mayWrite
            ? [
                {
                  header: 'Actions',
                  cell: (p: Policy) =>
                    p.isDefault ? (
                      <span className="small muted">Cannot be deleted</span>
                    ) : (
                      <Button size="small" onClick={() => setDeleting(p)} aria-label={`Delete ${p.name}`}>
                        Delete
                      </Button>
                    ),
                },
              ]
            : []),
        ]}
      />
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete policy"
          destructive
          typeToConfirm={deleting.name}
          onClose={() => setDeleting(null)}
          onConfirm={async () => {
            await api.deletePolicy(deleting);
            toast.info(`Deleted ${deleting.name}.`);
            list.reload();
          }}
        >
          <p>
            Its assignments are removed too. Users who had it fall back to their next group policy or to the
            default policy, and their devices receive the new settings at their next check-in.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
