import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../api/client';

export interface AsyncState<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  /** Load again (keeps showing the current data meanwhile). */
  reload: () => void;
}

/**
 * Loads `fn()` when `deps` change. With `pollMs`, loads again every `pollMs` while the tab is visible
 * (paused while hidden, refreshed at once when it becomes visible again), without flicker: the previous
 * data stays on screen until the next answer. `pollWhile(data)` can stop polling (e.g. all commands terminal).
 */
export function useAsync<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
  opts: { pollMs?: number; pollWhile?: (data: T) => boolean } = {},
): AsyncState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<ApiError | Error | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const optsRef = useRef(opts);
  optsRef.current = opts;

  useEffect(() => {
    // New deps: forget the previous subject's data.
    setData(undefined);
    setError(undefined);
  }, deps);

  useEffect(() => {
    const ctl = new AbortController();
    let timer: number | undefined;
    let stopped = false;
    const run = async () => {
      setLoading(true);
      try {
        const d = await fnRef.current(ctl.signal);
        if (stopped) return;
        setData(d);
        setError(undefined);
        schedule(d);
      } catch (e) {
        if (stopped || (e instanceof DOMException && e.name === 'AbortError')) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        if (!(e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)))
          schedule();
      } finally {
        if (!stopped) setLoading(false);
      }
    };
    const schedule = (d?: T) => {
      const { pollMs, pollWhile } = optsRef.current;
      if (!pollMs) return;
      if (d !== undefined && pollWhile && !pollWhile(d)) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        if (document.visibilityState === 'visible') void run();
        else waiting = true;
      }, pollMs);
    };
    let waiting = false;
    const onVisible = () => {
      if (document.visibilityState === 'visible' && waiting) {
        waiting = false;
        void run();
      }
    };
    document.addEventListener('visibilitychange', onVisible);
    void run();
    return () => {
      stopped = true;
      ctl.abort();
      window.clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Sets document.title to "<title> · Enclave". */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Enclave` : 'Enclave';
  }, [title]);
}
