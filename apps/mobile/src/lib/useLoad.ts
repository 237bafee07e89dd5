// Loads one thing for a screen, with the four states every screen shows:
// loading, ready (maybe empty), error, offline (with the last copy when one was kept).
import { useCallback, useEffect, useState } from "react";

import { OfflineError } from "@/api/client";
import { readJson, writeJson } from "@/lib/storage";

export type LoadState<T> =
  | { status: "loading"; data: null }
  | { status: "ready"; data: T; stale: boolean }
  | { status: "error"; data: null; message: string }
  | { status: "offline"; data: null };

/** `load` must be memoized (useCallback): a new function means a new load. */
export function useLoad<T>(
  load: (() => Promise<T>) | null,
  cacheKey: string | null = null,
): LoadState<T> & { reload: () => void } {
  const [attempt, setAttempt] = useState(0);
  // The outcome of one (load, attempt); a newer request shows loading, or the last data while it runs.
  const [result, setResult] = useState<{ load: () => Promise<T>; attempt: number; state: LoadState<T> } | null>(null);

  useEffect(() => {
    let cancelled = false;
    if (!load) return;
    const settle = (state: LoadState<T>) => {
      if (!cancelled) setResult({ load, attempt, state });
    };
    load().then(
      (data) => {
        settle({ status: "ready", data, stale: false });
        if (cacheKey && !cancelled) void writeJson(cacheKey, data);
      },
      async (err: unknown) => {
        if (err instanceof OfflineError) {
          const cached = cacheKey ? await readJson<T>(cacheKey) : null;
          settle(cached === null ? { status: "offline", data: null } : { status: "ready", data: cached, stale: true });
          return;
        }
        settle({ status: "error", data: null, message: err instanceof Error ? err.message : String(err) });
      },
    );
    return () => {
      cancelled = true;
    };
  }, [load, cacheKey, attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  let state: LoadState<T> = { status: "loading", data: null };
  if (result && result.load === load && result.attempt === attempt) state = result.state;
  else if (result?.state.status === "ready") state = result.state;
  return { ...state, reload };
}
