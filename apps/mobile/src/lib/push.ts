// Push notifications for followed topics: ask permission, get the Expo push token, and
// register it with the server (POST /api/v1/me/devices); unregister on sign-out.
import * as Device from "expo-device";
import * as Notifications from "expo-notifications";
import { Platform } from "react-native";
import Constants from "expo-constants";

import type { ApiClient } from "@/api/client";
import { keys, readJson, removeKey, writeJson } from "@/lib/storage";

export async function enablePush(client: ApiClient, language: string): Promise<string | null> {
  if (Platform.OS === "web" || !Device.isDevice) return null;
  if (Platform.OS === "android") {
    await Notifications.setNotificationChannelAsync("news", {
      name: "News",
      importance: Notifications.AndroidImportance.DEFAULT,
    });
  }
  const current = await Notifications.getPermissionsAsync();
  const granted = current.granted || (await Notifications.requestPermissionsAsync()).granted;
  if (!granted) return null;
  const projectId = Constants.expoConfig?.extra?.eas?.projectId as string | undefined;
  const { data: token } = await Notifications.getExpoPushTokenAsync(projectId ? { projectId } : undefined);
  await client.registerDevice(token, Platform.OS, language);
  await writeJson(keys.pushToken, token);
  return token;
}

export async function disablePush(client: ApiClient): Promise<void> {
  const token = await readJson<string>(keys.pushToken);
  if (!token) return;
  await client.unregisterDevice(token).catch(() => undefined);
  await removeKey(keys.pushToken);
}

export async function pushEnabled(): Promise<boolean> {
  return (await readJson<string>(keys.pushToken)) !== null;
}
