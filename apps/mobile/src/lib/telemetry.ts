// Client telemetry (POST /api/v1/telemetry): start time, crashes, playback errors.
// Best-effort: batched, never retried, failures ignored; no personal data is sent.
import Constants from "expo-constants";
import { Platform } from "react-native";

type Event = { type: "start"; duration_ms: number } | { type: "crash" } | { type: "playback_error" };

const pending: Event[] = [];
let server: string | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;

export const appVersion: string = Constants.expoConfig?.version ?? "1.0.0";

export function setTelemetryServer(url: string | null): void {
  server = url;
}

export function report(type: "crash" | "playback_error"): void {
  queue({ type });
}

export function reportStart(durationMs: number): void {
  queue({ type: "start", duration_ms: Math.round(durationMs) });
}

function queue(event: Event): void {
  if (pending.length < 50) pending.push(event);
  if (!timer) timer = setTimeout(() => void flush(), 2000);
}

export async function flush(): Promise<void> {
  timer = null;
  if (!server || pending.length === 0) return;
  const events = pending.splice(0, 50);
  const platform = Platform.OS === "ios" || Platform.OS === "android" ? Platform.OS : "web";
  try {
    await fetch(`${server}/api/v1/telemetry`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ platform, app_version: appVersion, events }),
    });
  } catch {
    // Telemetry never gets in the listener's way.
  }
}

/** Counts uncaught JavaScript errors as crashes (React Native's global handler; window.onerror on the web). */
export function installCrashReporter(): void {
  const g = globalThis as {
    ErrorUtils?: { getGlobalHandler(): (e: unknown, fatal?: boolean) => void; setGlobalHandler(h: (e: unknown, fatal?: boolean) => void): void };
    addEventListener?: (type: string, listener: () => void) => void;
  };
  if (g.ErrorUtils) {
    const previous = g.ErrorUtils.getGlobalHandler();
    g.ErrorUtils.setGlobalHandler((error, fatal) => {
      report("crash");
      void flush();
      previous(error, fatal);
    });
  } else if (Platform.OS === "web" && g.addEventListener) {
    g.addEventListener("error", () => report("crash"));
  }
}
