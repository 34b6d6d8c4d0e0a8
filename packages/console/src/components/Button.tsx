import type { ButtonHTMLAttributes, ReactNode } from 'react';

export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: 'default' | 'primary' | 'danger' | 'ghost';
  size?: 'normal' | 'small';
  /** Shows a spinner and disables the button (announced as busy). */
  busy?: boolean;
  children: ReactNode;
}

/** A real <button>. `type` defaults to "button" (forms pass type="submit"). */
export function Button({
  variant = 'default',
  size = 'normal',
  busy,
  className,
  children,
  ...rest
}: ButtonProps) {
  const cls = ['btn', variant !== 'default' && `btn-${variant}`, size === 'small' && 'btn-small', className]
    .filter(Boolean)
    .join(' ');
  return (
    <button
      type="button"
      {...rest}
      className={cls}
      disabled={rest.disabled || busy}
      aria-busy={busy || undefined}
    >
      {busy && <span className="spinner" aria-hidden="true" />}
      {children}
    </button>
  );
}
