// Live data by polling with back-off: every intervalMs while the answers come, doubling up to 30 s while they
// fail (the error stays on screen), paused while the tab is hidden, refreshed at once when it comes back or
// when refresh() is called (after an action).

import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, get } from "./api";

export interface Polled<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  refresh: () => void;
}

export function usePoll<T>(path: string | undefined, intervalMs = 3000): Polled<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ApiError>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const failures = useRef(0);

  useEffect(() => {
    setData(undefined);
    setLoading(true);
    failures.current = 0;
  }, [path]);

  useEffect(() => {
    if (!path) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (document.hidden) return schedule(intervalMs);
      try {
        const d = await get<T>(path);
        if (stopped) return;
        setData(d);
        setError(undefined);
        failures.current = 0;
      } catch (e) {
        if (stopped) return;
        setError(e instanceof ApiError ? e : new ApiError(0, String(e)));
        failures.current++;
      } finally {
        if (!stopped) setLoading(false);
      }
      schedule(failures.current ? Math.min(30_000, intervalMs * 2 ** failures.current) : intervalMs);
    };
    const schedule = (ms: number) => {
      if (!stopped) timer = setTimeout(() => void run(), ms);
    };
    const onVisible = () => {
      if (!document.hidden) {
        clearTimeout(timer);
        void run();
      }
    };
    document.addEventListener("visibilitychange", onVisible);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [path, intervalMs, tick]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, refresh };
}
