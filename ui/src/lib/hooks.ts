import { useCallback, useEffect, useRef, useState } from 'react';
import { errorText } from './errors';

export interface Loaded<T> { data: T | undefined; error: string | null; reload: () => void }

/** Loads with fn now and every intervalMs (0: once); keeps the last good data when a poll fails. */
export function usePoll<T>(fn: () => Promise<T>, intervalMs: number, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      fnRef.current().then(
        (d) => { if (live) { setData(d); setError(null); } },
        (e) => { if (live) { setError(errorText(e)); } },
      ).finally(() => {
        if (live && intervalMs > 0) {
          timer = setTimeout(load, intervalMs);
        }
      });
    };
    load();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [intervalMs, tick, ...deps]);
  return { data, error, reload };
}
