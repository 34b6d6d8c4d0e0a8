import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';

interface ToastItem {
  id: number;
  tone: 'info' | 'error';
  text: string;
}
interface ToastApi {
  /** A short confirmation ("Lock sent to Pixel 8"). Disappears after 6 s; announced politely. */
  info(text: string): void;
  /** A failure that is not tied to a form. Stays 10 s; announced assertively. */
  error(text: string): void;
}

const Ctx = createContext<ToastApi | null>(null);
let nextId = 1;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const dismiss = useCallback((id: number) => setItems((xs) => xs.filter((x) => x.id !== id)), []);
  const push = useCallback(
    (tone: ToastItem['tone'], text: string) => {
      const id = nextId++;
      setItems((xs) => [...xs.slice(-3), { id, tone, text }]);
      window.setTimeout(() => dismiss(id), tone === 'error' ? 10_000 : 6_000);
    },
    [dismiss],
  );
  const value = useMemo<ToastApi>(
    () => ({ info: (t) => push('info', t), error: (t) => push('error', t) }),
    [push],
  );
  return (
    <Ctx.Provider value={value}>
      {children}
      <div className="toasts" aria-live="polite" role="status">
        {items.map((t) => (
          <div key={t.id} className={`toast toast-${t.tone}`} data-testid="toast">
            <span>{t.text}</span>
            <button type="button" aria-label="Dismiss notification" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export function useToast(): ToastApi {
  const t = useContext(Ctx);
  if (!t) throw new Error('useToast outside ToastProvider');
  return t;
}
