import { useState, type FormEvent } from 'react';
import { api } from '../../api/client';
import { ROLE_LABELS } from '../../auth/permissions';
import { useSession } from '../../auth/session';
import { Banner, Button, ErrorBanner, FormField, PageHeader, useToast } from '../../components';
import { QrCode } from '../../components/QrCode';

/** The signed-in administrator's own account: role, and two-factor sign-in (TOTP) enrolment. */
export function AccountPage() {
  const { admin, refresh } = useSession();
  const toast = useToast();
  const [enroll, setEnroll] = useState<{ secret: string; otpauthUrl: string } | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (!admin) return null;

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setEnroll(await api.totpEnroll());
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  const confirm = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.totpConfirm(code);
      setEnroll(null);
      toast.info('Two-factor sign-in is on');
      await refresh();
    } catch (err) {
      setError(err);
      setCode('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Account security" description={`${admin.email} · ${ROLE_LABELS[admin.role]}`} />
      <section className="card" aria-labelledby="totp-h" style={{ maxWidth: 640 }}>
        <h2 id="totp-h">Two-factor sign-in</h2>
        <ErrorBanner error={error} />
        {admin.totpEnabled ? (
          <Banner tone="ok">On. Every sign-in asks for a code from your authenticator app.</Banner>
        ) : enroll ? (
          <form onSubmit={(e) => void confirm(e)}>
            <p>
              Scan this code with an authenticator app (or type the key), then enter the 6-digit code it
              shows.
            </p>
            <QrCode payload={enroll.otpauthUrl} label="TOTP enrolment QR code" />
            <p className="secret" aria-label="TOTP key">
              {enroll.secret}
            </p>
            <FormField label="Authentication code">
              <input
                type="text"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9]{6}"
                maxLength={6}
                required
                value={code}
                onChange={(e) => setCode(e.target.value.replace(/\D/g, ''))}
              />
            </FormField>
            <div className="form-actions">
              <Button onClick={() => setEnroll(null)}>Cancel</Button>
              <Button type="submit" variant="primary" busy={busy}>
                Turn on
              </Button>
            </div>
          </form>
        ) : (
          <>
            <Banner tone="warn">
              Off. Administrators should protect their account with a second factor: a stolen password alone
              would then not be enough.
            </Banner>
            <Button variant="primary" busy={busy} onClick={() => void start()}>
              Set up two-factor sign-in
            </Button>
          </>
        )}
      </section>
    </>
  );
}
