import { Banner, Button, Dialog } from '../../components';
import { QrCode } from '../../components/QrCode';
import { fmtDateTime } from '../../lib/format';

/**
 * Shows a new activation password — once. The server keeps only an OPAQUE record; closing this dialog
 * is the last time anyone sees the password.
 */
export function ActivationPasswordDialog({
  created,
  onClose,
}: {
  created: { userEmail: string; password: string; qr: string; expiresAt: string };
  onClose: () => void;
}) {
  return (
    <Dialog title="Activation password" onClose={onClose}>
      <Banner tone="warn">
        Shown only now. Give it to <strong>{created.userEmail}</strong> in person or over a trusted channel.
      </Banner>
      <QrCode payload={created.qr} label={`Activation QR code for ${created.userEmail}`} />
      <p className="secret" data-testid="activation-password" aria-label="Activation password">
        {created.password}
      </p>
      <p className="muted small">
        Scan the code in the Enclave app, or type the password with the email address. Valid until{' '}
        {fmtDateTime(created.expiresAt)}, for one device; five wrong tries lock it.
      </p>
      <div className="form-actions">
        <Button
          onClick={() => {
            void navigator.clipboard?.writeText(created.password);
          }}
        >
          Copy password
        </Button>
        <Button variant="primary" onClick={onClose} autoFocus>
          Done
        </Button>
      </div>
    </Dialog>
  );
}
