// Briefings kept on the device so they play without a network (native builds; the web
// build streams, since browsers keep no files an app may address by path).
import { Directory, File, Paths } from "expo-file-system";
import { Platform } from "react-native";

import { keys, readJson, writeJson } from "@/lib/storage";

type Index = Record<string, { uri: string; title: string }>;

export async function downloads(): Promise<Index> {
  return (await readJson<Index>(keys.downloads)) ?? {};
}

export async function downloadedUri(audioId: string): Promise<string | null> {
  if (Platform.OS === "web") return null;
  const entry = (await downloads())[audioId];
  if (!entry) return null;
  return new File(entry.uri).exists ? entry.uri : null;
}

export async function download(audioId: string, url: string, title: string): Promise<string> {
  if (Platform.OS === "web") throw new Error("downloads: the web build streams audio");
  const dir = new Directory(Paths.document, "briefings");
  if (!dir.exists) dir.create();
  const target = new File(dir, `${audioId.replace(/[^A-Za-z0-9_-]/g, "_")}${url.endsWith(".mp3") ? ".mp3" : ".opus"}`);
  if (target.exists) target.delete();
  const file = await File.downloadFileAsync(url, target);
  const index = await downloads();
  index[audioId] = { uri: file.uri, title };
  await writeJson(keys.downloads, index);
  return file.uri;
}

export async function removeDownload(audioId: string): Promise<void> {
  const index = await downloads();
  const entry = index[audioId];
  if (entry && Platform.OS !== "web") {
    const file = new File(entry.uri);
    if (file.exists) file.delete();
  }
  delete index[audioId];
  await writeJson(keys.downloads, index);
}
