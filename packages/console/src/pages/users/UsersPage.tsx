import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import { UserCreateSchema, type User } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
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

const PAGE = 25;

/** Users: search, group filter, pagination; create one; import many from CSV. */
export function UsersPage() {
  const can = useCan();
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const group = params.get('group') ?? '';
  const offset = Number(params.get('offset') ?? 0) || 0;
  const withoutDevice = params.get('withoutDevice') === 'true';
  const [search, setSearch] = useState(q);
  useEffect(() => setSearch(q), [q]);
  const [dialog, setDialog] = useState<'create' | 'import' | null>(null);

  const users = useAsync(
    () => api.users({ q: q || undefined, group: group || undefined, limit: PAGE, offset }),
    [q, group, offset],
  );
  const groups = useAsync(() => api.groups({ limit: 500 }), []);

  const update = (next: Record<string, string | undefined>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next))
      if (v) p.set(k, v);
      else p.delete(k);
    if (!('offset' in next)) p.delete('offset');
    setParams(p, { replace: true });
  };

  return (
    <>
      <PageHeader
        title="Users"
        description="The people whose devices Enclave manages."
        actions={
          <>
            <Link className="btn" to="/groups">
              Groups
            </Link>
            {can('users:write') && (
              <>
                <Button onClick={() => setDialog('import')}>Import CSV</Button>
                <Button variant="primary" onClick={() => setDialog('create')}>
                  Add user
                </Button>
              </>
            )}
          </>
        }
      />
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          update({ q: search.trim() || undefined });
        }}
      >
        <FormField label="Search">
          <input
            type="search"
            placeholder="Name or email"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
          />
        </FormField>
        <FormField label="Group">
          <select value={group} onChange={(e) => update({ group: e.target.value || undefined })}>
            <option value="">All groups</option>
            {groups.data?.items.map((g) => (
              <option key={g.id} value={g.name}>
                {g.name}
              </option>
            ))}
          </select>
        </FormField>
        <label className="checkbox" style={{ minHeight: 36 }}>
          <input
            type="checkbox"
            checked={withoutDevice}
            onChange={(e) => update({ withoutDevice: e.target.checked ? 'true' : undefined })}
          />
          Without a device
        </label>
        <Button type="submit">Search</Button>
        {(q || group || withoutDevice) && (
          <Button variant="ghost" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
            Clear filters
          </Button>
        )}
      </form>
      <ErrorBanner error={users.error} onRetry={users.reload} />
      <DataTable<User>
        caption="Users"
        testId="users-table"
        rows={users.data?.items}
        loading={users.loading}
        rowKey={(u) => u.id}
        columns={[
          {
            header: 'Name',
            cell: (u) => (
              <Link to={`/users/${u.id}`}>
                <strong>{u.name}</strong>
              </Link>
            ),
          },
          { header: 'Email', cell: (u) => u.email },
          {
            header: 'Groups',
            cell: (u) => (u.groups.length ? u.groups.join(', ') : <span className="muted">—</span>),
          },
          { header: 'Devices', numeric: true, cell: (u) => fmtNumber(u.deviceCount) },
          { header: 'Added', cell: (u) => <span className="nowrap">{fmtDate(u.createdAt)}</span> },
        ]}
        empty={
          q || group || withoutDevice ? (
            <EmptyState title="No users match these filters">
              Try another search or clear the filters.
            </EmptyState>
          ) : (
            <EmptyState title="No users yet">Add the first user, or import a CSV file with many.</EmptyState>
          )
        }
        pagination={
          users.data && {
            total: users.data.total,
            limit: PAGE,
            offset,
            onPage: (o) => update({ offset: o ? String(o) : undefined }),
          }
        }
      />
      {dialog === 'create' && <CreateUserDialog onClose={() => setDialog(null)} />}
      {dialog === 'import' && (
        <ImportDialog
          onClose={() => {
            setDialog(null);
            users.reload();
          }}
        />
      )}
    </>
  );
}

function CreateUserDialog({ onClose }: { onClose: () => void }) {
  const navigate = useNavigate();
  const toast = useToast();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [groups, setGroups] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body = {
      email,
      name,
      groups: groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean),
    };
    const parsed = UserCreateSchema.safeParse(body);
    if (!parsed.success) {
      setErrors(fieldErrors(parsed.error.issues));
      return;
    }
    setErrors({});
    setBusy(true);
    setError(null);
    try {
      const u = await api.createUser(body);
      toast.info(`${u.name} added`);
      onClose();
      void navigate(`/users/${u.id}`);
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.code === 'email_taken') setErrors({ email: err.message });
      setBusy(false);
    }
  };
  return (
    <Dialog title="Add user" onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <ErrorBanner error={error} />
        <FormField label="Email" error={errors.email}>
          <input
            type="email"
            autoFocus
            autoComplete="off"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </FormField>
        <FormField label="Full name" error={errors.name}>
          <input type="text" autoComplete="off" value={name} onChange={(e) => setName(e.target.value)} />
        </FormField>
        <FormField label="Groups" hint="Comma-separated names of existing groups." error={errors.groups}>
          <input type="text" autoComplete="off" value={groups} onChange={(e) => setGroups(e.target.value)} />
        </FormField>
        <div className="form-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy}>
            Add user
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

function ImportDialog({ onClose }: { onClose: () => void }) {
  const [csv, setCsv] = useState('');
  const [fileName, setFileName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Awaited<ReturnType<typeof api.importUsers>> | null>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setResult(await api.importUsers(csv));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Import users from CSV" onClose={onClose} wide>
      {result ? (
        <div data-testid="import-report">
          <Banner tone={result.failed ? 'warn' : 'ok'}>
            {fmtNumber(result.imported)} imported, {fmtNumber(result.failed)} failed.
          </Banner>
          {result.errors.length > 0 && (
            <div className="table-wrap" style={{ maxHeight: 300 }}>
              <table className="data">
                <caption className="visually-hidden">Rows that were not imported</caption>
                <thead>
                  <tr>
                    <th scope="col" className="num">
                      Row
                    </th>
                    <th scope="col">Email</th>
                    <th scope="col">Problem</th>
                  </tr>
                </thead>
                <tbody>
                  {result.errors.map((r) => (
                    <tr key={r.row}>
                      <td className="num">{r.row}</td>
                      <td>{r.email ?? '—'}</td>
                      <td>
                        {r.message} <span className="mono muted">{r.code}</span>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <div className="form-actions">
            <Button variant="primary" onClick={onClose}>
              Done
            </Button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e) => void submit(e)}>
          <p className="muted">
            One user per line with a header row: <code>email,name,groups</code>. Separate several groups with
            <code>;</code>. Rows that fail are reported one by one; the others are imported.
          </p>
          <ErrorBanner error={error} />
          <FormField label="CSV file" hint={fileName ? `${fileName} loaded` : undefined}>
            <input
              type="file"
              accept=".csv,text/csv"
              onChange={(e) => {
                const f = e.target.files?.[0];
                if (!f) return;
                setFileName(f.name);
                void f.text().then(setCsv);
              }}
            />
          </FormField>
          <FormField label="…or paste CSV">
            <textarea
              rows={6}
              spellCheck={false}
              className="mono"
              value={csv}
              onChange={(e) => setCsv(e.target.value)}
            />
          </FormField>
          <div className="form-actions">
            <Button onClick={onClose}>Cancel</Button>
            <Button type="submit" variant="primary" busy={busy} disabled={!csv.trim()}>
              Import
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}
