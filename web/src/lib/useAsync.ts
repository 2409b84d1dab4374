// SPDX-License-Identifier: MIT
import { useCallback, useEffect, useRef, useState } from "react";

export interface AsyncState<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (d: T) => void;
}

interface Settled<T> {
  run: string;
  data: T | undefined;
  error: unknown;
}

/**
 * Runs `fn` when `key` changes (and on reload()), keeping the last data while reloading.
 * Late answers of superseded runs are dropped. `loading` is true until the current run settles.
 */
export function useAsync<T>(fn: (signal: AbortSignal) => Promise<T>, key: string): AsyncState<T> {
  const [tick, setTick] = useState(0);
  const [settled, setSettled] = useState<Settled<T>>({ run: "", data: undefined, error: null });
  const fnRef = useRef(fn);
  useEffect(() => {
    fnRef.current = fn;
  });
  const run = `${tick}|${key}`;

  useEffect(() => {
    const ctl = new AbortController();
    let live = true;
    fnRef.current(ctl.signal).then(
      (d) => {
        if (live) setSettled({ run, data: d, error: null });
      },
      (e: unknown) => {
        if (!live || (e instanceof DOMException && e.name === "AbortError")) return;
        setSettled((s) => ({ run, data: s.data, error: e }));
      },
    );
    return () => {
      live = false;
      ctl.abort();
    };
  }, [run]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  const setData = useCallback((d: T) => setSettled((s) => ({ ...s, data: d, error: null })), []);
  return { data: settled.data, error: settled.error, loading: settled.run !== run, reload, setData };
}
