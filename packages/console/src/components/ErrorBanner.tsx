import type { ReactNode } from 'react';
import { ApiError } from '../api/client';
import { Button } from './Button';

/**
 * Shows the server's own error message (and its stable code), never a generic "something went wrong".
 * `role="alert"` so screen readers announce it.
 */
export function ErrorBanner({
  error,
  title,
  onRetry,
}: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
}) {
  if (!error) return null;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : 'Unexpected error';
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div className="banner banner-error" role="alert">
      <div className="body">
        {title && <strong>{title} </strong>}
        {message}
        {code && <div className="code">{code}</div>}
      </div>
      {onRetry && (
        <Button size="small" onClick={onRetry}>
          Retry
        </Button>
      )}
    </div>
  );
}

export function Banner({ tone, children }: { tone: 'info' | 'warn' | 'ok' | 'error'; children: ReactNode }) {
  return (
    <div className={`banner banner-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      <div className="body">{children}</div>
    </div>
  );
}
