// Small hooks the pages share: the URL hash as the route, and loading data with its error.
import { useEffect, useState } from 'react';
import { ApiError } from './api.js';

export function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = (): void => setHash(location.hash || '#/');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | null; error: string | null; reload: () => void } {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    fn().then(
      (data) => live && setState({ data, error: null }),
      (e: Error) =>
        live &&
        setState({ data: null, error: e instanceof ApiError && e.status === 404 ? 'Not found (or not visible to you).' : e.message }),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

export const pct = (v: unknown): string => (typeof v === 'number' ? `${(100 * v).toFixed(2)}%` : '-');
