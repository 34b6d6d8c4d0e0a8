import { useEffect, useState } from 'react';
import QRCode from 'qrcode';

/**
 * Renders `payload` as a QR code image (data: URL — allowed by the console's CSP img-src). The payload
 * is the activation QR from the API; it never leaves the page.
 */
export function QrCode({ payload, label }: { payload: string; label: string }) {
  const [src, setSrc] = useState<string | null>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let live = true;
    QRCode.toDataURL(payload, { errorCorrectionLevel: 'M', margin: 2, width: 440 })
      .then((url) => live && setSrc(url))
      .catch(() => live && setFailed(true));
    return () => {
      live = false;
    };
  }, [payload]);
  if (failed) return <p className="muted">The QR code could not be drawn; type the password instead.</p>;
  return (
    <div className="qr">
      {src ? (
        <img src={src} alt={label} data-testid="activation-qr" />
      ) : (
        <span className="skeleton" style={{ width: 220, height: 220 }} />
      )}
    </div>
  );
}
