import { useState } from 'react';
import { Link, useParams } from 'react-router';
import type { CommandState, CommandType, Permission } from '@enclave/protocol';
import { api } from '../../api/client';
import { useCan } from '../../auth/session';
import {
  Banner,
  Button,
  ConfirmDialog,
  EmptyState,
  ErrorBanner,
  FormField,
  PageHeader,
  Skeleton,
  StatusBadge,
} from '../../components';
import { useToast } from '../../components';
import { fmtDateTime, fmtRelative, humanize } from '../../lib/format';
import { useAsync } from '../../lib/hooks';

/** Which permission each command needs (the same mapping the server enforces). */
const COMMANDS: {
  type: CommandType;
  label: string;
  permission: Permission;
  destructive: boolean;
  help: string;
}[] = [
  {
    type: 'lock',
    label: 'Lock',
    permission: 'devices:lock',
    destructive: false,
    help: 'Locks the Enclave app until the user unlocks it with their passcode.',
  },
  {
    type: 'unlock',
    label: 'Unlock',
    permission: 'devices:lock',
    destructive: false,
    help: 'Lifts a remote lock.',
  },
  {
    type: 'ping',
    label: 'Ping',
    permission: 'devices:lock',
    destructive: false,
    help: 'Asks the device to check in now.',
  },
  {
    type: 'wipe-work',
    label: 'Wipe work data',
    permission: 'devices:wipe',
    destructive: true,
    help: 'Erases Enclave data (messages, keys, files) from the device. The device stays enrolled.',
  },
  {
    type: 'wipe',
    label: 'Wipe device',
    permission: 'devices:wipe',
    destructive: true,
    help: 'Erases the whole device. Needs a second administrator to approve it.',
  },
  {
    type: 'revoke',
    label: 'Revoke',
    permission: 'devices:revoke',
    destructive: true,
    help: 'Revokes the device certificate: the device can no longer connect. Cannot be undone.',
  },
];

const TERMINAL: CommandState[] = ['done', 'failed', 'expired'];
const STEPS: CommandState[] = ['queued', 'delivered', 'acknowledged', 'done'];

/** One device: posture, compliance and why, effective policy and why, certificate, command history, commands. */
export function DevicePage() {
  const { id = '' } = useParams();
  const can = useCan();
  const toast = useToast();
  // Refreshes by itself while a command is on its way, stops once every command is final.
  const device = useAsync(() => api.device({ id }), [id], {
    pollMs: 2_000,
    pollWhile: (d) => d.commands.some((c) => !TERMINAL.includes(c.state)),
  });
  const [pending, setPending] = useState<(typeof COMMANDS)[number] | null>(null);
  const [message, setMessage] = useState('');
  const [approvalNote, setApprovalNote] = useState<string | null>(null);
  const d = device.data;
  const name = d ? d.name || `${d.platform} device` : 'Device';
  // posture: not in the device detail yet (asked of the server side); shown once it is.
  const detail: (NonNullable<typeof d> & { posture?: Posture | null }) | undefined = d;
  const allowed = COMMANDS.filter((c) => can(c.permission));

  if (device.error && !d)
    return (
      <>
        <PageHeader title="Device" back={{ to: '/devices', label: 'Devices' }} />
        <ErrorBanner error={device.error} onRetry={device.reload} />
      </>
    );

  return (
    <>
      <PageHeader
        title={name}
        back={{ to: '/devices', label: 'Devices' }}
        description={
          d && (
            <>
              {d.platform} · <Link to={`/users/${d.userId}`}>{d.userEmail}</Link> ·{' '}
              <StatusBadge status={d.status} /> <StatusBadge status={d.compliance} />
            </>
          )
        }
        actions={
          d &&
          d.status === 'active' &&
          allowed.map((c) => (
            <Button
              key={c.type}
              variant={c.destructive ? 'danger' : 'default'}
              onClick={() => {
                setMessage('');
                setPending(c);
              }}
            >
              {c.label}
            </Button>
          ))
        }
      />
      {approvalNote && (
        <Banner tone="info">
          {approvalNote} <Link to="/approvals">Open approvals</Link>
        </Banner>
      )}
      {d?.status === 'revoked' && (
        <Banner tone="warn">
          This device was revoked {fmtRelative(d.revokedAt)}; it can no longer connect.
        </Banner>
      )}
      <div className="stack" aria-busy={!d}>
        <div className="grid grid-2">
          <section className="card" aria-labelledby="ov-h">
            <h2 id="ov-h">Overview</h2>
            {d ? (
              <dl className="props">
                <dt>User</dt>
                <dd>
                  <Link to={`/users/${d.userId}`}>{d.userEmail}</Link>
                </dd>
                <dt>Platform</dt>
                <dd>{d.platform}</dd>
                <dt>Enclave app</dt>
                <dd>{d.clientVersion}</dd>
                <dt>Activated</dt>
                <dd>{fmtDateTime(d.activatedAt)}</dd>
                <dt>Last contact</dt>
                <dd>
                  {fmtRelative(d.lastContactAt)}
                  {d.lastContactAt && <span className="muted small"> ({fmtDateTime(d.lastContactAt)})</span>}
                </dd>
                <dt>Conversations</dt>
                <dd data-testid="conversation-count">{d.conversations}</dd>
                <dt>Device ID</dt>
                <dd className="mono">{d.id}</dd>
              </dl>
            ) : (
              <Skeleton width="100%" height="160px" />
            )}
          </section>
          <section className="card" aria-labelledby="comp-h">
            <h2 id="comp-h">Compliance</h2>
            {d ? (
              <>
                <p>
                  <StatusBadge status={d.compliance} />
                </p>
                {d.complianceReasons && d.complianceReasons.length > 0 ? (
                  <ul className="link-list" data-testid="compliance-reasons">
                    {d.complianceReasons.map((r) => (
                      <li key={r.code}>
                        <span>
                          <strong>{humanize(r.code)}</strong>
                          <br />
                          <span className="small">{r.message}</span>
                        </span>
                        <span className="small muted" style={{ textAlign: 'right' }}>
                          {humanize(r.action)}
                          <br />
                          {r.enforcedAt
                            ? `applied ${fmtRelative(r.enforcedAt)}`
                            : `from ${fmtDateTime(r.enforceAt)}`}
                        </span>
                      </li>
                    ))}
                  </ul>
                ) : (
                  <p className="muted">
                    {d.compliance === 'unknown'
                      ? 'Not evaluated yet: waiting for a posture report.'
                      : 'No rule is broken.'}
                  </p>
                )}
              </>
            ) : (
              <Skeleton width="100%" height="80px" />
            )}
          </section>
        </div>

        <div className={`grid${detail && 'posture' in detail ? ' grid-2' : ''}`}>
          <section className="card" aria-labelledby="pol-h">
            <h2 id="pol-h">Effective policy</h2>
            {d ? (
              <>
                <p>
                  {can('policies:read') ? (
                    <Link to={`/policies/${d.policy.id}`}>{d.policy.name}</Link>
                  ) : (
                    <strong>{d.policy.name}</strong>
                  )}{' '}
                  <span className="muted small">version {d.policy.version}</span>
                </p>
                <p className="small" data-testid="policy-explanation">
                  <strong>Why: </strong>
                  {d.policy.explanation}
                </p>
              </>
            ) : (
              <Skeleton width="100%" height="60px" />
            )}
          </section>
          {detail && 'posture' in detail && (
            <section className="card" aria-labelledby="posture-h">
              <h2 id="posture-h">Posture</h2>
              {detail.posture ? (
                <dl className="props">
                  <dt>OS version</dt>
                  <dd>
                    {detail.posture.platform} {detail.posture.osVersion}
                  </dd>
                  <dt>Passcode</dt>
                  <dd>{yesNo(detail.posture.passcodeSet, 'set', 'not set')}</dd>
                  <dt>Storage</dt>
                  <dd>{yesNo(detail.posture.storageEncrypted, 'encrypted', 'not encrypted')}</dd>
                  <dt>Integrity</dt>
                  <dd>{yesNo(!detail.posture.rooted, 'not rooted or jailbroken', 'rooted or jailbroken')}</dd>
                  <dt>Reported</dt>
                  <dd>{fmtRelative(detail.posture.reportedAt)}</dd>
                </dl>
              ) : (
                <p className="muted">The device has not reported its posture yet.</p>
              )}
            </section>
          )}
        </div>

        <section className="card" aria-labelledby="cmd-h">
          <h2 id="cmd-h">Command history</h2>
          {d && d.commands.length === 0 ? (
            <EmptyState title="No commands yet">
              Commands you send to this device appear here with their progress.
            </EmptyState>
          ) : (
            <div style={{ overflowX: 'auto' }}>
              <table className="data" data-testid="command-history">
                <caption className="visually-hidden">Commands sent to this device, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">Command</th>
                    <th scope="col">State</th>
                    <th scope="col">Progress</th>
                    <th scope="col">Sent</th>
                    <th scope="col">Details</th>
                  </tr>
                </thead>
                <tbody>
                  {d?.commands.map((c) => (
                    <tr key={c.commandId} data-command-type={c.type} data-command-state={c.state}>
                      <td>
                        <strong>{humanize(c.type)}</strong>
                      </td>
                      <td>
                        <StatusBadge status={c.state} />
                      </td>
                      <td>
                        <Steps state={c.state} />
                      </td>
                      <td className="nowrap">{fmtDateTime(c.createdAt)}</td>
                      <td className="small">
                        {c.message && <>“{c.message}” </>}
                        {c.reason && <span className="muted">{c.reason}</span>}
                        {c.completedAt && (
                          <span className="muted">completed {fmtRelative(c.completedAt)}</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>

        <section className="card" aria-labelledby="cert-h">
          <h2 id="cert-h">Certificate</h2>
          {d ? (
            <>
              <dl className="props">
                <dt>Serial</dt>
                <dd className="mono">{d.certificateSerial}</dd>
                <dt>Valid until</dt>
                <dd>
                  {fmtDateTime(d.certificateNotAfter)}{' '}
                  <span className="muted small">({fmtRelative(d.certificateNotAfter)})</span>
                </dd>
              </dl>
              <details className="data-table">
                <summary>Show PEM</summary>
                <pre className="mono small" style={{ overflowX: 'auto', whiteSpace: 'pre' }}>
                  {d.certificate}
                </pre>
              </details>
            </>
          ) : (
            <Skeleton width="100%" height="60px" />
          )}
        </section>
      </div>

      {pending && d && (
        <ConfirmDialog
          title={`${pending.label}: ${name}?`}
          confirmLabel={pending.label}
          destructive={pending.destructive}
          typeToConfirm={pending.destructive ? name : undefined}
          onClose={() => setPending(null)}
          onConfirm={async () => {
            const r = await api.sendCommand(
              { id },
              {
                type: pending.type,
                ...(pending.type === 'lock' && message.trim() ? { message: message.trim() } : {}),
              },
            );
            if ('commandId' in r) {
              toast.info(`${pending.label} sent to ${name}`);
              setApprovalNote(null);
            } else {
              const note = `${pending.label} is awaiting approval by a second administrator (request ${r.id.slice(0, 8)}).`;
              setApprovalNote(note);
              toast.info(note);
            }
            device.reload();
          }}
        >
          <p>{pending.help}</p>
          {pending.type === 'lock' && (
            <FormField label="Message on the locked screen" hint="Optional, e.g. a phone number to call.">
              <input
                type="text"
                maxLength={500}
                value={message}
                onChange={(e) => setMessage(e.target.value)}
              />
            </FormField>
          )}
        </ConfirmDialog>
      )}
    </>
  );
}

interface Posture {
  platform: string;
  osVersion: string;
  clientVersion: string;
  passcodeSet: boolean;
  storageEncrypted: boolean;
  rooted: boolean;
  reportedAt: string;
}

function yesNo(good: boolean, yes: string, no: string) {
  return <StatusBadge status={good ? 'ok' : 'bad'} tone={good ? 'ok' : 'danger'} label={good ? yes : no} />;
}

function Steps({ state }: { state: CommandState }) {
  const bad = state === 'failed' || state === 'expired';
  const reached = bad ? -1 : STEPS.indexOf(state);
  return (
    <span className="steps" aria-hidden="true">
      {STEPS.map((s, i) => (
        <span key={s} className={`step${i <= reached ? ' reached' : ''}`}>
          {humanize(s)}
        </span>
      ))}
      {bad && <span className="step bad">{humanize(state)}</span>}
    </span>
  );
}
