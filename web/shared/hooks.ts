import { messageOf } from './api.js';
import { useEffect, useState } from 'preact/hooks';

/** Loads `load()` now, when `deps` change and whenever `reload` is called; `error` holds what went wrong. */
export function useLoad<T>(
  load: () => Promise<T>,
  deps: unknown[],
): { data: T | undefined; error: string; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const [tick, setTick] = useState(0);
  useEffect(() => {
    setError('');
    load().then(setData, (err: unknown) => setError(messageOf(err)));
  }, [...deps, tick]);
  return { data, error, reload: () => setTick((t) => t + 1) };
}
