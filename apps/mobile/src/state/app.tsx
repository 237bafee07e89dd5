// App-wide state: which server, the API client for it, whether someone is signed in, the UI language.
import { getLocales } from "expo-localization";
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import type { ReactNode } from "react";

import { ApiClient, normalizeServerUrl } from "@/api/client";
import type { FetchLike, TokenStore } from "@/api/client";
import { strings } from "@/i18n/strings";
import type { Locale, StringKey } from "@/i18n/strings";
import { keys, readJson, secureTokenStore, writeJson } from "@/lib/storage";

/**
 * The server offered first: the demo server `newstalk up --demo` starts, in development
 * (`__DEV__`), or whatever a build sets in EXPO_PUBLIC_DEMO_SERVER (eas.json `development`
 * builds in release mode, where `__DEV__` is false). Store builds set neither.
 */
export const DEMO_SERVER = process.env.EXPO_PUBLIC_DEMO_SERVER ?? (__DEV__ ? "http://127.0.0.1:8000" : null);

export function deviceLocale(): Locale {
  try {
    return getLocales()[0]?.languageCode === "ko" ? "ko" : "en";
  } catch {
    return "en";
  }
}

export interface AppState {
  ready: boolean;
  server: string | null;
  client: ApiClient | null;
  signedIn: boolean;
  locale: Locale;
  localeChoice: Locale | "system";
  t: (key: StringKey) => string;
  setServer: (url: string | null) => Promise<void>;
  setLocale: (choice: Locale | "system") => Promise<void>;
  markSignedIn: (value: boolean) => void;
  /** Whether `url` answers as a NewsTalk server (`GET /health`), through the app's network. */
  probeServer: (url: string) => Promise<boolean>;
}

const AppContext = createContext<AppState | null>(null);

export interface AppProviderProps {
  children: ReactNode;
  /** Tests and the web build's end-to-end run pass these; the app uses the defaults. */
  initialServer?: string | null;
  fetchImpl?: FetchLike;
  tokenStore?: (server: string) => TokenStore;
  initialLocale?: Locale | "system";
}

export function AppProvider(props: AppProviderProps) {
  const { children, fetchImpl, tokenStore = secureTokenStore } = props;
  const [ready, setReady] = useState(false);
  const [server, setServerState] = useState<string | null>(props.initialServer ?? null);
  const [localeChoice, setLocaleChoice] = useState<Locale | "system">(props.initialLocale ?? "system");
  // Whether someone is signed in, as known for one client (a new server starts signed out).
  const [auth, setAuth] = useState<{ client: ApiClient | null; value: boolean }>({ client: null, value: false });

  const client = useMemo(() => {
    if (!server) return null;
    const created: ApiClient = new ApiClient(server, tokenStore(server), fetchImpl, () =>
      setAuth({ client: created, value: false }),
    );
    return created;
  }, [server, fetchImpl, tokenStore]);
  const signedIn = auth.client === client && client !== null && auth.value;
  // Until the stored tokens of this server have been read, nobody is known to be signed out.
  const authKnown = client === null || auth.client === client;
  const markSignedIn = useCallback((value: boolean) => setAuth({ client, value }), [client]);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      if (props.initialServer === undefined) {
        const saved = await readJson<string>(keys.server);
        if (!cancelled && saved) setServerState(saved);
      }
      if (props.initialLocale === undefined) {
        const savedLocale = await readJson<Locale | "system">(keys.locale);
        if (!cancelled && savedLocale) setLocaleChoice(savedLocale);
      }
      if (!cancelled) setReady(true);
    })();
    return () => {
      cancelled = true;
    };
    // Runs once: later changes go through setServer / setLocale.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    let cancelled = false;
    if (!client) return;
    client.isSignedIn().then((value) => {
      if (!cancelled) setAuth({ client, value });
    });
    return () => {
      cancelled = true;
    };
  }, [client]);

  const setServer = useCallback(async (url: string | null) => {
    const value = url === null ? null : normalizeServerUrl(url);
    setServerState(value);
    await writeJson(keys.server, value);
  }, []);

  const setLocale = useCallback(async (choice: Locale | "system") => {
    setLocaleChoice(choice);
    await writeJson(keys.locale, choice);
  }, []);

  const probeServer = useCallback(
    async (url: string) => {
      const send: FetchLike = fetchImpl ?? ((input, init) => fetch(input, init));
      try {
        return (await send(`${normalizeServerUrl(url)}/health`, { method: "GET" })).ok;
      } catch {
        return false;
      }
    },
    [fetchImpl],
  );

  const locale: Locale = localeChoice === "system" ? deviceLocale() : localeChoice;
  const t = useCallback((key: StringKey) => strings[locale][key], [locale]);

  const value: AppState = {
    ready: ready && authKnown,
    server,
    client,
    signedIn,
    locale,
    localeChoice,
    t,
    setServer,
    setLocale,
    markSignedIn,
    probeServer,
  };
  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}

export function useApp(): AppState {
  const value = useContext(AppContext);
  if (!value) throw new Error("useApp outside AppProvider");
  return value;
}

/** The client of a screen that only renders when signed in to a server. */
export function useClient(): ApiClient {
  const { client } = useApp();
  if (!client) throw new Error("no server chosen");
  return client;
}
