// Where the app keeps things: tokens in the platform keychain (SecureStore), with
// localStorage on the web where no keychain exists; everything else in AsyncStorage.
import AsyncStorage from "@react-native-async-storage/async-storage";
import * as SecureStore from "expo-secure-store";
import { Platform } from "react-native";

import type { TokenStore } from "@/api/client";
import type { Tokens } from "@/api/types";

const TOKENS_KEY = "newstalk.tokens";

async function secureGet(key: string): Promise<string | null> {
  if (Platform.OS === "web") return globalThis.localStorage?.getItem(key) ?? null;
  return SecureStore.getItemAsync(key);
}

async function secureSet(key: string, value: string): Promise<void> {
  if (Platform.OS === "web") {
    globalThis.localStorage?.setItem(key, value);
    return;
  }
  await SecureStore.setItemAsync(key, value, {
    keychainAccessible: SecureStore.AFTER_FIRST_UNLOCK,
  });
}

async function secureDelete(key: string): Promise<void> {
  if (Platform.OS === "web") {
    globalThis.localStorage?.removeItem(key);
    return;
  }
  await SecureStore.deleteItemAsync(key);
}

/** Tokens per server, so switching servers never sends one server's token to another. */
export function secureTokenStore(serverUrl: string): TokenStore {
  const key = `${TOKENS_KEY}.${serverUrl.replace(/[^A-Za-z0-9._-]/g, "_")}`;
  return {
    async load() {
      const raw = await secureGet(key);
      if (!raw) return null;
      try {
        return JSON.parse(raw) as Tokens;
      } catch {
        return null;
      }
    },
    save: (tokens) => secureSet(key, JSON.stringify(tokens)),
    clear: () => secureDelete(key),
  };
}

export async function readJson<T>(key: string): Promise<T | null> {
  try {
    const raw = await AsyncStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export async function writeJson(key: string, value: unknown): Promise<void> {
  try {
    await AsyncStorage.setItem(key, JSON.stringify(value));
  } catch {
    // A full or unavailable store only costs the offline copy.
  }
}

export async function removeKey(key: string): Promise<void> {
  await AsyncStorage.removeItem(key);
}

export const keys = {
  server: "newstalk.server",
  locale: "newstalk.locale",
  feedCache: (server: string) => `newstalk.feed.${server}`,
  trendingCache: (server: string) => `newstalk.trending.${server}`,
  downloads: "newstalk.downloads",
  positions: "newstalk.positions",
  pushToken: "newstalk.pushToken",
};
