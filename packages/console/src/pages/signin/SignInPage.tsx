import { useRef, useState, type FormEvent } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { api, ApiError } from '../../api/client';
import { useSession } from '../../auth/session';
import { Banner, Button, ErrorBanner, FormField } from '../../components';
import { Logo } from '../../components/Shell';
import { useTitle } from '../../lib/hooks';

/**
 * Administrator sign-in: email + password, then — when the account has TOTP — a second step for the
 * 6-digit code. The password stays in component memory only between the two steps.
 */
export function SignInPage() {
  useTitle('Sign in');
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const next = (location.state as { next?: string } | null)?.next ?? '/';
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | Error | null>(null);
  const totpRef = useRef<HTMLInputElement>(null);

  if (session.admin) return <Navigate to={next} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.login({ email, password, ...(step === 'totp' ? { totp } : {}) });
      setPassword('');
      session.signedIn(r.admin, r.csrfToken);
      void navigate(r.admin.totpEnabled ? next : '/account', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === 'totp_required') {
        setStep('totp');
        window.setTimeout(() => totpRef.current?.focus(), 0);
      } else {
        setError(err instanceof Error ? err : new Error(String(err)));
        if (step === 'totp') setTotp('');
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="signin">
      <main className="card" aria-labelledby="signin-title">
        <div className="brand">
          <Logo />
          Enclave
        </div>
        <h1 id="signin-title">{step === 'password' ? 'Sign in to the console' : 'Two-factor sign-in'}</h1>
        {session.notice && <Banner tone="info">{session.notice}</Banner>}
        <ErrorBanner error={error} />
        <form onSubmit={(e) => void submit(e)} noValidate={false}>
          {step === 'password' ? (
            <>
              <FormField label="Email">
                <input
                  type="email"
                  name="email"
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
                  name="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                />
              </FormField>
            </>
          ) : (
            <>
              <p className="muted">
                Enter the 6-digit code from your authenticator app for <strong>{email}</strong>.
              </p>
              <FormField label="Authentication code">
                <input
                  ref={totpRef}
                  type="text"
                  name="totp"
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  pattern="[0-9]{6}"
                  maxLength={6}
                  required
                  value={totp}
                  onChange={(e) => setTotp(e.target.value.replace(/\D/g, ''))}
                />
              </FormField>
            </>
          )}
          <div className="form-actions">
            {step === 'totp' && (
              <Button
                onClick={() => {
                  setStep('password');
                  setTotp('');
                  setError(null);
                }}
              >
                Back
              </Button>
            )}
            <Button type="submit" variant="primary" busy={busy}>
              {step === 'password' ? 'Continue' : 'Sign in'}
            </Button>
          </div>
        </form>
        <p className="small muted" style={{ marginTop: 24 }}>
          Employee? Use the <a href="/portal">self-service portal</a>.
        </p>
      </main>
    </div>
  );
}
