import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { ApiError } from '../api/client';
import { Button } from './Button';
import { ErrorBanner } from './ErrorBanner';

/**
 * A modal built on the native <dialog> (showModal): focus moves into it, Tab stays inside, Escape
 * closes it, and focus returns to the element that opened it. Render it only while open.
 */
export function Dialog({
  title,
  onClose,
  children,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (d && !d.open) d.showModal();
    return () => {
      opener?.focus?.();
    };
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby={titleId}
      style={wide ? { width: 'min(720px, calc(100vw - 24px))' } : undefined}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="dialog-body">
        <h2 id={titleId}>{title}</h2>
        {children}
      </div>
    </dialog>
  );
}

/**
 * Asks before doing something. With `typeToConfirm` (a device's name), the confirm button stays
 * disabled until the exact name is typed — for wipe, revoke and other destructive commands.
 * `onConfirm` may throw: the server's message is shown in the dialog and it stays open.
 */
export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  destructive,
  typeToConfirm,
  onConfirm,
  onClose,
}: {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  destructive?: boolean;
  typeToConfirm?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const inputId = useId();
  const matches = typeToConfirm === undefined || typed.trim() === typeToConfirm.trim();
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!matches) return;
    setBusy(true);
    setError(null);
    try {
      await onConfirm();
      onClose();
    } catch (err) {
      setError(err instanceof ApiError || err instanceof Error ? err : new Error(String(err)));
      setBusy(false);
    }
  };
  return (
    <Dialog title={title} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        {children}
        <ErrorBanner error={error} />
        {typeToConfirm !== undefined && (
          <div className="field">
            <label htmlFor={inputId}>
              Type <strong className="mono">{typeToConfirm}</strong> to confirm
            </label>
            <input
              id={inputId}
              type="text"
              autoComplete="off"
              spellCheck={false}
              autoFocus
              value={typed}
              onChange={(e) => setTyped(e.target.value)}
            />
          </div>
        )}
        <div className="form-actions">
          <Button onClick={onClose} disabled={busy}>
            Cancel
          </Button>
          <Button type="submit" variant={destructive ? 'danger' : 'primary'} busy={busy} disabled={!matches}>
            {confirmLabel}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
