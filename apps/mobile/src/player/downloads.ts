// Briefings kept on the device so they play without a network (native builds; the web
// build streams, since browsers keep no files an app may address by path).
//
// The index is keyed by audio id (what the player loads) and, per server, by story id (what
// a listener presses Listen on), so a downloaded story plays without asking the server first.
import { Directory, File, Paths } from "expo-file-system";
import { Platform } from "react-native";

import type { AudioStatus } from "@/api/types";
import { keys, readJson, writeJson } from "@/lib/storage";

export interface Download {
  uri: string;
  title: string;
  server: string;
  storyId: number;
  audio: AudioStatus;
}

interface Index {
  byAudio: Record<string, Download>;
  /** `${server} ${storyId}` -> audio id */
  byStory: Record<string, string>;
}

const storyKey = (server: string, storyId: number) => `${server} ${storyId}`;

async function readIndex(): Promise<Index> {
  const raw = await readJson<Partial<Index>>(keys.downloads);
  return { byAudio: raw?.byAudio ?? {}, byStory: raw?.byStory ?? {} };
}

function present(entry: Download | undefined): entry is Download {
  return entry !== undefined && Platform.OS !== "web" && new File(entry.uri).exists;
}

/** Every download of one server whose file is still on the device, by title. */
export async function downloadsOf(server: string): Promise<Download[]> {
  const index = await readIndex();
  return Object.values(index.byAudio)
    .filter((entry) => entry.server === server && present(entry))
    .sort((a, b) => a.title.localeCompare(b.title));
}

export async function downloadedUri(audioId: string): Promise<string | null> {
  const entry = (await readIndex()).byAudio[audioId];
  return present(entry) ? entry.uri : null;
}

/** The downloaded copy of a story from this server, if its file is still there. */
export async function downloadedStory(server: string, storyId: number): Promise<Download | null> {
  const index = await readIndex();
  const audioId = index.byStory[storyKey(server, storyId)];
  const entry = audioId === undefined ? undefined : index.byAudio[audioId];
  return present(entry) ? entry : null;
}

export async function download(server: string, storyId: number, title: string, audio: AudioStatus, url: string): Promise<string> {
  if (Platform.OS === "web") throw new Error("downloads: the web build streams audio");
  const dir = new Directory(Paths.document, "briefings");
  if (!dir.exists) dir.create();
  const target = new File(dir, `${audio.id.replace(/[^A-Za-z0-9_-]/g, "_")}${url.endsWith(".mp3") ? ".mp3" : ".opus"}`);
  if (target.exists) target.delete();
  const file = await File.downloadFileAsync(url, target);
  const index = await readIndex();
  // A newer briefing of the same story replaces the older copy.
  const previous = index.byStory[storyKey(server, storyId)];
  if (previous !== undefined && previous !== audio.id) await removeDownload(previous);
  const fresh = await readIndex();
  fresh.byAudio[audio.id] = { uri: file.uri, title, server, storyId, audio };
  fresh.byStory[storyKey(server, storyId)] = audio.id;
  await writeJson(keys.downloads, fresh);
  return file.uri;
}

export async function removeDownload(audioId: string): Promise<void> {
  const index = await readIndex();
  const entry = index.byAudio[audioId];
  if (entry && Platform.OS !== "web") {
    const file = new File(entry.uri);
    if (file.exists) file.delete();
  }
  delete index.byAudio[audioId];
  for (const [key, id] of Object.entries(index.byStory)) {
    if (id === audioId) delete index.byStory[key];
  }
  await writeJson(keys.downloads, index);
}
