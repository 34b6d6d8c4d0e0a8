import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import type { Policy } from '@enclave/protocol';
import { api, ApiError } from '../../api/client';
import { useCan } from '../../auth/session';
import { Button, ErrorBanner, FormField, useToast } from '../../components';
import { fmtDate, plural } from '../../lib/format';
import { type AsyncState, useAsync } from '../../lib/hooks';
import { type AssignmentPreview, previewGroupAssignment } from './assignment-preview';

type Affected = Awaited<ReturnType<typeof api.policyAffected>>;

function sourceText(s: Affected['items'][number]['source']): string {
  if (s.kind === 'user') return 'assigned directly';
  if (s.kind === 'group') return `through group ${s.groupName ?? ''} (rank ${s.rank ?? 0})`;
  return 'default policy';
}

/**
 * Where a policy is assigned (users directly, groups with a rank) and the users whose effective policy
 * it is now — the preview of who a change reaches.
 */
export function PolicyAssignments({
  policy,
  affected,
  onChanged,
}: {
  policy: Policy;
  affected: AsyncState<Affected | null>;
  onChanged: () => void;
}) {
  const can = useCan();
  const toast = useToast();
  const mayWrite = can('policies:write');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState<string | null>(null);

  const run = async (key: string, fn: () => Promise<unknown>, done: string) => {
    setBusy(key);
    setError(null);
    try {
      await fn();
      toast.info(done);
      onChanged();
      affected.reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="grid grid-2 section-gap">
      <section className="card" aria-labelledby="pol-assign">
        <h2 id="pol-assign">Assignments</h2>
        <ErrorBanner error={error} />
        {policy.isDefault ? (
          <p className="muted">
            The default policy applies to every user without a direct or group policy; it is not assigned.
          </p>
        ) : (
          <>
            <h3>Groups</h3>
            <p className="muted small">Among a user’s groups, the policy with the highest rank wins.</p>
            {policy.assignments.groups.length === 0 ? (
              <p className="muted">No group has this policy.</p>
            ) : (
              <ul className="link-list" aria-label="Groups with this policy">
                {[...policy.assignments.groups]
                  .sort((a, b) => b.rank - a.rank)
                  .map((g) => (
                    <li key={g.groupId}>
                      <span>
                        <strong>{g.name}</strong> <span className="muted small">rank {g.rank}</span>
                      </span>
                      {mayWrite && (
                        <Button
                          size="small"
                          busy={busy === g.groupId}
                          aria-label={`Remove group ${g.name}`}
                          onClick={() =>
                            void run(
                              g.groupId,
                              () => api.unassignPolicyGroup(policy, g.groupId),
                              `Removed ${g.name}.`,
                            )
                          }
                        >
                          Remove
                        </Button>
                      )}
                    </li>
                  ))}
              </ul>
            )}
            {mayWrite && <AddGroup policy={policy} run={run} busy={busy} />}

            <h3 className="section-gap">Users (direct)</h3>
            <p className="muted small">
              A direct assignment replaces the user’s previous direct policy and beats groups.
            </p>
            {policy.assignments.users.length === 0 ? (
              <p className="muted">No user has this policy directly.</p>
            ) : (
              <ul className="link-list" aria-label="Users with this policy directly">
                {policy.assignments.users.map((u) => (
                  <li key={u.userId}>
                    <span>
                      <Link to={`/users/${u.userId}`}>{u.email}</Link>{' '}
                      <span className="muted small">since {fmtDate(u.assignedAt)}</span>
                    </span>
                    {mayWrite && (
                      <Button
                        size="small"
                        busy={busy === u.userId}
                        aria-label={`Remove user ${u.email}`}
                        onClick={() =>
                          void run(
                            u.userId,
                            () => api.unassignPolicyUser(policy, u.userId),
                            `Removed ${u.email}.`,
                          )
                        }
                      >
                        Remove
                      </Button>
                    )}
                  </li>
                ))}
              </ul>
            )}
            {mayWrite && <AddUser policy={policy} run={run} busy={busy} />}
          </>
        )}
      </section>

      <section className="card" aria-labelledby="pol-affected" data-testid="policy-affected">
        <h2 id="pol-affected">Who this policy applies to</h2>
        <ErrorBanner error={affected.error} onRetry={affected.reload} />
        {affected.data && (
          <>
            <p>
              {affected.data.total === 0
                ? 'No user has this as their effective policy: a change here reaches no device.'
                : `A change here reaches ${affected.data.total === 1 ? '1 user' : `${affected.data.total} users`} and their devices.`}
            </p>
            {affected.data.items.length > 0 && (
              <ul className="link-list" aria-label="Users whose effective policy this is">
                {affected.data.items.map((u) => (
                  <li key={u.userId}>
                    <span>
                      <Link to={`/users/${u.userId}`}>{u.name || u.email}</Link>
                      {u.name && <span className="muted small"> {u.email}</span>}
                    </span>
                    <span className="muted small">{sourceText(u.source)}</span>
                  </li>
                ))}
              </ul>
            )}
            {affected.data.total > affected.data.items.length && (
              <p className="muted small">
                Showing {affected.data.items.length} of {affected.data.total}.
              </p>
            )}
          </>
        )}
      </section>
    </div>
  );
}

type Run = (key: string, fn: () => Promise<unknown>, done: string) => Promise<void>;

function AddGroup({ policy, run, busy }: { policy: Policy; run: Run; busy: string | null }) {
  const groups = useAsync(() => api.groups({ limit: 500 }), []);
  const [groupId, setGroupId] = useState('');
  const [rank, setRank] = useState('10');
  const [rankError, setRankError] = useState<string>();
  const group = groups.data?.items.find((x) => x.id === groupId);
  // Everything the preview needs: every policy's assignments and the group's members.
  const context = useAsync(
    () =>
      group
        ? Promise.all([api.policies(), api.users({ group: group.name, limit: 500 })])
        : Promise.resolve(null),
    [group?.name, policy.id, policy.version],
  );
  const rankNumber = Number(rank);
  const preview =
    context.data && group && rank.trim() !== '' && Number.isInteger(rankNumber) && rankNumber >= 0
      ? previewGroupAssignment(policy, group.name, rankNumber, context.data[0].items, context.data[1].items)
      : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const g = groups.data?.items.find((x) => x.id === groupId);
    if (!g) return;
    const n = Number(rank);
    if (!Number.isInteger(n) || n < 0) {
      setRankError('A whole number, 0 or more.');
      return;
    }
    setRankError(undefined);
    void run(
      'add-group',
      () => api.assignPolicy(policy, { groupId, rank: n }),
      `Assigned to ${g.name} with rank ${n}.`,
    );
  };
  return (
    <>
      <form className="toolbar" onSubmit={submit} aria-label="Assign to a group">
        <FormField label="Group">
          <select value={groupId} onChange={(e) => setGroupId(e.target.value)}>
            <option value="">
              {groups.data ? (groups.data.items.length ? 'Choose a group' : 'No groups yet') : 'Loading…'}
            </option>
            {groups.data?.items.map((g) => (
              <option key={g.id} value={g.id}>
                {g.name} ({g.memberCount})
              </option>
            ))}
          </select>
        </FormField>
        <FormField label="Rank" error={rankError}>
          <input
            type="number"
            min={0}
            inputMode="numeric"
            value={rank}
            onChange={(e) => setRank(e.target.value)}
            className="narrow"
          />
        </FormField>
        <Button type="submit" disabled={!groupId} busy={busy === 'add-group'}>
          Assign to group
        </Button>
      </form>
      {preview && group && context.data && (
        <PreviewText preview={preview} group={group.name} rank={rankNumber} total={context.data[1].total} />
      )}
    </>
  );
}

function PreviewText({
  preview,
  group,
  rank,
  total,
}: {
  preview: AssignmentPreview;
  group: string;
  rank: number;
  total: number;
}) {
  const names = (xs: { user: { name: string; email: string }; policy: string }[], how: string) =>
    xs
      .slice(0, 5)
      .map((x) => `${x.user.name || x.user.email} (${how} ${x.policy})`)
      .join(', ') + (xs.length > 5 ? ` and ${xs.length - 5} more` : '');
  const rest = [
    preview.already ? `${preview.already} already have it` : null,
    preview.keepDirect ? `${preview.keepDirect} keep a direct policy` : null,
    preview.keepOtherGroup ? `${preview.keepOtherGroup} keep a higher-ranked group’s policy` : null,
  ].filter(Boolean);
  return (
    <div className="banner banner-info small" role="status" data-testid="assignment-preview">
      <div className="body">
        <strong>
          Preview: {group} with rank {rank}.
        </strong>{' '}
        {preview.replaces && <>This replaces the group’s current policy, {preview.replaces}. </>}
        {total === 0
          ? 'The group has no members yet.'
          : preview.switching.length === 0 && preview.leaving.length === 0
            ? 'No member’s effective policy would change.'
            : null}
        {preview.switching.length > 0 && (
          <>
            {' '}
            {plural(preview.switching.length, 'member')} would switch to this policy:{' '}
            {names(preview.switching, 'now')}.
          </>
        )}
        {preview.leaving.length > 0 && (
          <>
            {' '}
            {plural(preview.leaving.length, 'member')} would leave it: {names(preview.leaving, 'to')}.
          </>
        )}
        {rest.length > 0 && <> Of the others, {rest.join(', ')}.</>}
        {total > 500 && <> (Preview of the first 500 of {total} members.)</>}
      </div>
    </div>
  );
}

function AddUser({ policy, run, busy }: { policy: Policy; run: Run; busy: string | null }) {
  const [email, setEmail] = useState('');
  const [error, setError] = useState<string>();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const wanted = email.trim().toLowerCase();
    try {
      const found = await api.users({ q: wanted, limit: 20 });
      const user = found.items.find((u) => u.email.toLowerCase() === wanted);
      if (!user) {
        setError(`No user with the email ${wanted}.`);
        return;
      }
      await run(
        'add-user',
        () => api.assignPolicy(policy, { userId: user.id }),
        `Assigned to ${user.email}.`,
      );
      setEmail('');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <form className="toolbar" onSubmit={(e) => void submit(e)} aria-label="Assign to a user">
      <FormField label="User’s email" error={error}>
        <input type="email" value={email} autoComplete="off" onChange={(e) => setEmail(e.target.value)} />
      </FormField>
      <Button type="submit" disabled={!email.trim()} busy={busy === 'add-user'}>
        Assign to user
      </Button>
    </form>
  );
}
