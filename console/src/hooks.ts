/** Loading data for a page: a request, its error, and a way to load it again. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

export interface Loaded<T> {
  data: T | null;
  error: unknown;
  reload: () => Promise<void>;
}

/** Runs `load` when `key` changes, and again on reload(); the last answer wins. */
export function useLoad<T>(load: () => Promise<T>, key: string): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const ticket = ++latest.current;
    try {
      const answer = await loadRef.current();
      if (ticket !== latest.current) return;
      setData(answer);
      setError(null);
    } catch (caught) {
      if (ticket === latest.current) setError(caught);
    }
  }, []);

  useEffect(() => {
    setData(null);
    void reload();
  }, [key]);

  return { data, error, reload };
}

/** Calls `tick` every `ms` while the tab is visible. */
export function useInterval(tick: () => void, ms: number): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    const timer = setInterval(() => {
      if (!document.hidden) tickRef.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}
