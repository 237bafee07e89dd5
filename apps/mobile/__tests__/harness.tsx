// Renders the app's real routes under the real providers, with a scripted network.
import { renderRouter } from "expo-router/testing-library";
import type { ReactNode } from "react";
import { Slot } from "expo-router";

import type { FetchLike, TokenStore } from "@/api/client";
import type { Tokens } from "@/api/types";
import { PlayerProvider } from "@/player/player";
import { AppProvider } from "@/state/app";
import type { Locale } from "@/i18n/strings";

export const SERVER = "http://news.test";

export type Reply = unknown | { status: number; body: unknown } | "offline" | "pending";
export type Routes = Record<string, Reply | ((init?: RequestInit) => Reply)>;

function response(status: number, body: unknown): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText: `HTTP ${status}`,
    json: async () => body,
    text: async () => (body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body)),
  } as unknown as Response;
}

/** A fetch that answers by path (without the query) from `routes`; unknown paths answer 404. */
export function scriptedFetch(routes: Routes): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (input: string, init?: RequestInit) => {
    const path = input.replace(SERVER, "").split("?")[0] ?? "";
    const key = `${init?.method ?? "GET"} ${path}`;
    calls.push(key);
    const entry = key in routes ? routes[key] : routes[path];
    const reply = typeof entry === "function" ? (entry as (i?: RequestInit) => Reply)(init) : entry;
    if (reply === undefined) return response(404, { detail: `no route ${key}` });
    if (reply === "offline") throw new TypeError("Network request failed");
    if (reply === "pending") return new Promise<Response>(() => undefined);
    if (reply && typeof reply === "object" && "status" in reply && "body" in reply) {
      const r = reply as { status: number; body: unknown };
      return response(r.status, r.body);
    }
    return response(200, reply);
  };
  return Object.assign(fn, { calls });
}

export const TOKENS: Tokens = {
  access_token: "access-1",
  token_type: "bearer",
  expires_in: 900,
  refresh_token: "refresh-1",
  refresh_expires_in: 86400,
};

export function memoryTokens(initial: Tokens | null = TOKENS): TokenStore & { current: Tokens | null } {
  const store = {
    current: initial,
    load: async () => store.current,
    save: async (t: Tokens) => {
      store.current = t;
    },
    clear: async () => {
      store.current = null;
    },
  };
  return store;
}

export function renderApp(opts: {
  url: string;
  routes: Record<string, () => ReactNode>;
  fetch: FetchLike;
  tokens?: TokenStore;
  locale?: Locale;
  server?: string | null;
}) {
  const tokens = opts.tokens ?? memoryTokens();
  function Root() {
    return (
      <AppProvider initialServer={opts.server === undefined ? SERVER : opts.server} fetchImpl={opts.fetch} tokenStore={() => tokens} initialLocale={opts.locale ?? "en"}>
        <PlayerProvider>
          <Slot />
        </PlayerProvider>
      </AppProvider>
    );
  }
  return renderRouter({ _layout: Root, ...opts.routes }, { initialUrl: opts.url });
}
