import { useEffect, useState, type FormEvent } from 'react';
import { Link, Navigate, Route, Routes, useNavigate } from 'react-router';
import { employeeCredentials, onSessionExpired, portalApi } from '../api/client';
import {
  Banner,
  Button,
  ConfirmDialog,
  EmptyState,
  ErrorBanner,
  FormField,
  StatusBadge,
  useToast,
} from '../components';
import { Logo } from '../components/Shell';
import { fmtDateTime, fmtRelative } from '../lib/format';
import { useAsync, useTitle } from '../lib/hooks';
import { ActivationPasswordDialog } from '../pages/users/ActivationPasswordDialog';

/**
 * The employees' self-service portal under /portal, with its own sign-in. The employee's `ess_`
 * bearer token is kept in sessionStorage: per tab, gone when the tab closes, never in a URL or
 * localStorage. (The admin console uses an HttpOnly cookie instead; the portal API is bearer-only.)
 */
export function PortalApp() {
  const [signedIn, setSignedIn] = useState(() => employeeCredentials.token() !== null);
  const [notice, setNotice] = useState<string | null>(null);
  useEffect(
    () =>
      onSessionExpired((who, reason) => {
        if (who !== 'employee') return;
        employeeCredentials.set(null);
        setNotice(`${reason} Sign in again to continue.`);
        setSignedIn(false);
      }),
    [],
  );
  const onSignedIn = (token: string) => {
    employeeCredentials.set(token);
    setNotice(null);
    setSignedIn(true);
  };
  return (
    <Routes>
      <Route
        path="sign-in"
        element={
          signedIn ? (
            <Navigate to="/portal" replace />
          ) : (
            <PortalSignIn notice={notice} onSignedIn={onSignedIn} />
          )
        }
      />
      <Route
        path="accept"
        element={signedIn ? <Navigate to="/portal" replace /> : <AcceptInvitation onSignedIn={onSignedIn} />}
      />
      <Route
        index
        element={
          signedIn ? (
            <PortalHome
              onSignOut={() => {
                void portalApi.logout().catch(() => undefined);
                employeeCredentials.set(null);
                setNotice('You signed out.');
                setSignedIn(false);
              }}
            />
          ) : (
            <Navigate to="/portal/sign-in" replace />
          )
        }
      />
      <Route path="*" element={<Navigate to="/portal" replace />} />
    </Routes>
  );
}

function PortalSignIn({
  notice,
  onSignedIn,
}: {
  notice: string | null;
  onSignedIn: (token: string) => void;
}) {
  useTitle('My devices — sign in');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await portalApi.login({ email, password });
      onSignedIn(s.token);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <main className="card" aria-labelledby="p-title">
        <div className="brand">
          <Logo />
          Enclave
        </div>
        <h1 id="p-title">My devices</h1>
        <p className="muted">Sign in with your work email to see and protect your devices.</p>
        {notice && <Banner tone="info">{notice}</Banner>}
        <ErrorBanner error={error} />
        <form onSubmit={(e) => void submit(e)}>
          <FormField label="Email">
            <input
              type="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </FormField>
          <FormField label="Password">
            <input
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </FormField>
          <div className="form-actions">
            <Button type="submit" variant="primary" busy={busy}>
              Sign in
            </Button>
          </div>
        </form>
        <p className="small" style={{ marginTop: 24 }}>
          First time here? <Link to="/portal/accept">I have an invitation code</Link>
        </p>
      </main>
    </div>
  );
}

function AcceptInvitation({ onSignedIn }: { onSignedIn: (token: string) => void }) {
  useTitle('Accept invitation');
  const [email, setEmail] = useState('');
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const s = await portalApi.acceptInvitation({ email, code, password });
      onSignedIn(s.token);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return (
    <div className="signin">
      <main className="card" aria-labelledby="a-title">
        <div className="brand">
          <Logo />
          Enclave
        </div>
        <h1 id="a-title">Set up your portal password</h1>
        <p className="muted">Enter the invitation code your helpdesk gave you and choose a password.</p>
        <ErrorBanner error={error} />
        <form onSubmit={(e) => void submit(e)}>
          <FormField label="Email">
            <input
              type="email"
              autoComplete="username"
              required
              autoFocus
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          </FormField>
          <FormField label="Invitation code">
            <input
              type="text"
              autoComplete="off"
              spellCheck={false}
              required
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
          </FormField>
          <FormField label="New password" hint="At least 12 characters.">
            <input
              type="password"
              autoComplete="new-password"
              required
              minLength={12}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </FormField>
          <div className="form-actions">
            <Link className="btn" to="/portal/sign-in">
              Back
            </Link>
            <Button type="submit" variant="primary" busy={busy}>
              Set password and sign in
            </Button>
          </div>
        </form>
      </main>
    </div>
  );
}

type SelfDevice = Awaited<ReturnType<typeof portalApi.devices>>['items'][number];

function PortalHome({ onSignOut }: { onSignOut: () => void }) {
  useTitle('My devices');
  const toast = useToast();
  const navigate = useNavigate();
  const me = useAsync(() => portalApi.me(), []);
  const devices = useAsync(() => portalApi.devices(), [], { pollMs: 10_000 });
  const [action, setAction] = useState<{ device: SelfDevice; type: 'lock' | 'wipe' } | null>(null);
  const [created, setCreated] = useState<Awaited<ReturnType<typeof portalApi.createActivation>> | null>(null);
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState<unknown>(null);
  const name = (d: SelfDevice) => d.name || `${d.platform} device`;

  const create = async () => {
    setCreating(true);
    setCreateError(null);
    try {
      setCreated(await portalApi.createActivation());
      me.reload();
    } catch (e) {
      setCreateError(e);
    } finally {
      setCreating(false);
    }
  };

  return (
    <div className="portal">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar" style={{ position: 'static' }}>
        <span className="row" style={{ fontWeight: 700 }}>
          <Logo /> Enclave · My devices
        </span>
        <span className="spacer" />
        <span className="who" data-testid="portal-email">
          {me.data?.email}
        </span>
        <Button
          size="small"
          onClick={() => {
            onSignOut();
            void navigate('/portal/sign-in');
          }}
        >
          Sign out
        </Button>
      </header>
      <main className="content" id="main" tabIndex={-1} style={{ maxWidth: 960, margin: '0 auto' }}>
        <header className="page-header">
          <div className="titles">
            <h1>{me.data ? `Hello, ${me.data.name}` : 'My devices'}</h1>
            <p className="description">
              Lost a phone? Lock it here at once. Wipe it if it will not come back. Your helpdesk sees what
              you do here.
            </p>
          </div>
        </header>
        <ErrorBanner error={devices.error} onRetry={devices.reload} />
        <section aria-labelledby="dev-h" className="stack">
          <h2 id="dev-h">Your devices</h2>
          {devices.data && devices.data.items.length === 0 && (
            <div className="card">
              <EmptyState title="No devices yet">
                Create an activation password below to set up your first device.
              </EmptyState>
            </div>
          )}
          <div className="grid grid-2">
            {devices.data?.items.map((d) => (
              <article className="card" key={d.id} aria-labelledby={`d-${d.id}`} data-testid="portal-device">
                <div className="card-header">
                  <h3 id={`d-${d.id}`}>{name(d)}</h3>
                  <StatusBadge status={d.status} />
                </div>
                <dl className="props">
                  <dt>Platform</dt>
                  <dd>{d.platform}</dd>
                  <dt>Activated</dt>
                  <dd>{fmtDateTime(d.activatedAt)}</dd>
                  <dt>Last seen</dt>
                  <dd>{fmtRelative(d.lastContactAt)}</dd>
                </dl>
                {d.status === 'active' && (
                  <div className="form-actions">
                    <Button
                      onClick={() => setAction({ device: d, type: 'lock' })}
                      aria-label={`Lock ${name(d)}`}
                    >
                      Lock
                    </Button>
                    <Button
                      variant="danger"
                      onClick={() => setAction({ device: d, type: 'wipe' })}
                      aria-label={`Wipe ${name(d)}`}
                    >
                      Wipe
                    </Button>
                  </div>
                )}
              </article>
            ))}
          </div>
        </section>
        <section className="card" aria-labelledby="new-h" style={{ marginTop: 24 }}>
          <h2 id="new-h">Add a device</h2>
          <ErrorBanner error={createError} />
          {me.data && !me.data.canCreateActivation ? (
            <p className="muted">
              You have {me.data.activeDevices} of {me.data.deviceLimit} allowed devices. Ask your helpdesk to
              remove one before adding another.
            </p>
          ) : (
            <>
              <p className="muted">
                Creates a one-time activation password and QR code for a new phone or computer.
                {me.data && ` You have ${me.data.activeDevices} of ${me.data.deviceLimit} allowed devices.`}
              </p>
              <Button variant="primary" busy={creating} onClick={() => void create()}>
                Create activation password
              </Button>
            </>
          )}
        </section>
      </main>
      {created && <ActivationPasswordDialog created={created} onClose={() => setCreated(null)} />}
      {action && (
        <ConfirmDialog
          title={`${action.type === 'lock' ? 'Lock' : 'Wipe'} ${name(action.device)}?`}
          confirmLabel={action.type === 'lock' ? 'Lock device' : 'Wipe device'}
          destructive={action.type === 'wipe'}
          typeToConfirm={action.type === 'wipe' ? name(action.device) : undefined}
          onClose={() => setAction(null)}
          onConfirm={async () => {
            await portalApi.command({ id: action.device.id }, { type: action.type });
            toast.info(
              action.type === 'lock'
                ? `Lock sent to ${name(action.device)}. It locks the next time it is online.`
                : `Wipe sent to ${name(action.device)}.`,
            );
            devices.reload();
          }}
        >
          <p>
            {action.type === 'lock'
              ? 'The Enclave app on this device locks until you unlock it with your passcode.'
              : 'Everything Enclave keeps on this device — messages, keys and files — is erased, and the device must be activated again. This cannot be undone.'}
          </p>
        </ConfirmDialog>
      )}
    </div>
  );
}
