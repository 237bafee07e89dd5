// The one audio player: a queue of story briefings, speed, ±15 s, chapters, transcript,
// background playback with lock-screen controls, offline copies, and the resume position
// kept on the device and on the server.
import { createAudioPlayer, setAudioModeAsync, useAudioPlayerStatus } from "expo-audio";
import type { AudioPlayer } from "expo-audio";
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import type { ReactNode } from "react";
import { Platform } from "react-native";

import { ApiError, OfflineError } from "@/api/client";
import type { ApiClient } from "@/api/client";
import type { AudioStatus, Chapter } from "@/api/types";
import { downloadedStory, downloadedUri } from "@/player/downloads";
import { keys, readJson, writeJson } from "@/lib/storage";
import { report } from "@/lib/telemetry";
import { useApp } from "@/state/app";

export const SPEEDS = [0.8, 1.0, 1.25, 1.5, 1.75, 2.0] as const;
export const SKIP_S = 15;
const SAVE_EVERY_MS = 10_000;

export function clampSpeed(speed: number): number {
  return Math.min(2.0, Math.max(0.8, Math.round(speed * 100) / 100));
}

export interface QueueItem {
  storyId: number;
  title: string;
  audio: AudioStatus;
}

export interface PlayerState {
  current: QueueItem | null;
  queue: QueueItem[];
  playing: boolean;
  position: number;
  duration: number;
  speed: number;
  chapters: Chapter[];
  transcript: string;
  preparing: boolean;
  /** Why the last Listen failed; `offline` when the server could not be reached. */
  error: string | null;
  offline: boolean;
  playStory: (storyId: number, title: string) => Promise<void>;
  /** Plays the story when nothing plays, otherwise adds it to the end of the queue (once). */
  enqueueStory: (storyId: number, title: string) => Promise<void>;
  toggle: () => void;
  skip: (seconds: number) => void;
  seek: (seconds: number) => void;
  setSpeed: (speed: number) => void;
  next: () => void;
}

const PlayerContext = createContext<PlayerState | null>(null);

async function waitUntilReady(client: ApiClient, status: AudioStatus): Promise<AudioStatus> {
  let current = status;
  for (let i = 0; current.status !== "ready" && i < 120; i++) {
    if (current.status === "failed") throw new Error(current.error ?? "audio failed");
    await new Promise((resolve) => setTimeout(resolve, 1000));
    current = await client.audioStatus(current.status_url);
  }
  if (current.status !== "ready" || !current.url) throw new Error(current.error ?? "audio not ready");
  return current;
}

/** Opus where the platform plays it (Android, Chromium), MP3 where it does not (iOS, Safari). */
export function preferredFormat(): "opus" | "mp3" {
  if (Platform.OS === "ios") return "mp3";
  if (Platform.OS === "web" && typeof navigator !== "undefined" && /Safari/.test(navigator.userAgent) && !/Chrome|Chromium/.test(navigator.userAgent)) {
    return "mp3";
  }
  return "opus";
}

export function PlayerProvider({ children }: { children: ReactNode }) {
  const { client, signedIn } = useApp();
  const [player] = useState<AudioPlayer>(() => createAudioPlayer(null, { updateInterval: 500 }));
  const status = useAudioPlayerStatus(player);
  const [current, setCurrent] = useState<QueueItem | null>(null);
  const [queue, setQueue] = useState<QueueItem[]>([]);
  const [speed, setSpeedState] = useState(1.0);
  const [chapters, setChapters] = useState<Chapter[]>([]);
  const [transcript, setTranscript] = useState("");
  const [preparing, setPreparing] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [offline, setOffline] = useState(false);
  const lastSaved = useRef(0);

  useEffect(() => {
    // Background playback and lock-screen controls need the session in doNotMix mode.
    setAudioModeAsync({ playsInSilentMode: true, shouldPlayInBackground: true, interruptionMode: "doNotMix" }).catch(
      () => undefined,
    );
    if (Platform.OS === "web") {
      // The browser end-to-end test reads currentTime through this handle.
      (globalThis as { __newstalkPlayer?: AudioPlayer }).__newstalkPlayer = player;
    }
    return () => {
      player.remove();
    };
  }, [player]);

  useEffect(() => {
    // The listener's speed; nobody is signed in on the server and sign-in screens.
    if (!client || !signedIn) return;
    client
      .preferences()
      .then((prefs) => setSpeedState(clampSpeed(prefs.playback_speed || 1)))
      .catch(() => undefined);
  }, [client, signedIn]);

  const savePosition = useCallback(
    async (item: QueueItem, seconds: number) => {
      const positions = (await readJson<Record<string, number>>(keys.positions)) ?? {};
      positions[item.audio.id] = seconds;
      await writeJson(keys.positions, positions);
      if (client) await client.savePosition(item.audio.id, seconds).catch(() => undefined);
    },
    [client],
  );

  const resumeAt = useCallback(
    async (audioId: string): Promise<number> => {
      const local = (await readJson<Record<string, number>>(keys.positions))?.[audioId] ?? 0;
      if (!client) return local;
      try {
        return (await client.position(audioId)).position_s;
      } catch {
        return local;
      }
    },
    [client],
  );

  const load = useCallback(
    async (item: QueueItem) => {
      if (!client) return;
      setCurrent(item);
      setChapters([]);
      setTranscript("");
      const copy = await downloadedUri(item.audio.id);
      const uri = copy ?? client.url(item.audio.url ?? "");
      player.replace({ uri });
      player.setPlaybackRate(speed);
      const start = await resumeAt(item.audio.id);
      if (start > 0) await player.seekTo(start);
      player.play();
      if (Platform.OS !== "web") {
        player.setActiveForLockScreen(true, { title: item.title, artist: "NewsTalk" }, {
          showSeekForward: true,
          showSeekBackward: true,
        });
      }
      if (item.audio.chapters_url) {
        client.chapters(item.audio.chapters_url).then(setChapters, () => undefined);
      }
      if (item.audio.transcript_url) {
        client.transcript(item.audio.transcript_url).then((vtt) => setTranscript(vttToText(vtt)), () => undefined);
      }
    },
    [client, player, resumeAt, speed],
  );

  const fetchAudio = useCallback(
    async (storyId: number, title: string): Promise<QueueItem | null> => {
      if (!client) return null;
      setError(null);
      setOffline(false);
      // A downloaded copy plays as it is, without asking the server (which may be out of reach).
      const kept = await downloadedStory(client.baseUrl, storyId);
      if (kept) return { storyId, title: kept.title, audio: kept.audio };
      setPreparing(true);
      try {
        const audio = await waitUntilReady(client, await client.voice(storyId, preferredFormat()));
        return { storyId, title, audio };
      } catch (err) {
        if (!(err instanceof OfflineError) && !(err instanceof ApiError && err.status === 429)) {
          report("playback_error");
        }
        setOffline(err instanceof OfflineError);
        setError(err instanceof Error ? err.message : String(err));
        return null;
      } finally {
        setPreparing(false);
      }
    },
    [client],
  );

  const playStory = useCallback(
    async (storyId: number, title: string) => {
      const item = await fetchAudio(storyId, title);
      if (item) await load(item);
    },
    [fetchAudio, load],
  );

  const enqueueStory = useCallback(
    async (storyId: number, title: string) => {
      if (current?.storyId === storyId || queue.some((q) => q.storyId === storyId)) return;
      const item = await fetchAudio(storyId, title);
      if (!item) return;
      if (current === null) await load(item);
      else setQueue((q) => (q.some((other) => other.storyId === storyId) ? q : [...q, item]));
    },
    [current, queue, fetchAudio, load],
  );

  const next = useCallback(() => {
    setQueue((q) => {
      const [head, ...rest] = q;
      if (head) void load(head);
      return rest;
    });
  }, [load]);

  // Keep the resume position: every 10 s while playing, and whenever playback pauses.
  useEffect(() => {
    if (!current) return;
    const now = Date.now();
    if (status.playing && now - lastSaved.current < SAVE_EVERY_MS) return;
    if (!status.playing && status.currentTime === 0) return;
    lastSaved.current = now;
    void savePosition(current, status.didJustFinish ? 0 : status.currentTime);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [status.playing, Math.floor(status.currentTime / 10), current, savePosition]);

  const nextRef = useRef(next);
  useEffect(() => {
    nextRef.current = next;
  }, [next]);
  useEffect(() => {
    const sub = player.addListener("playbackStatusUpdate", (update) => {
      if (update.didJustFinish) nextRef.current();
    });
    return () => sub.remove();
  }, [player]);

  const toggle = useCallback(() => {
    if (status.playing) player.pause();
    else player.play();
  }, [player, status.playing]);

  const seek = useCallback(
    (seconds: number) => {
      const end = status.duration > 0 ? status.duration : Number.POSITIVE_INFINITY;
      void player.seekTo(Math.min(end, Math.max(0, seconds)));
    },
    [player, status.duration],
  );

  const skip = useCallback((delta: number) => seek(status.currentTime + delta), [seek, status.currentTime]);

  const setSpeed = useCallback(
    (value: number) => {
      const clamped = clampSpeed(value);
      setSpeedState(clamped);
      player.setPlaybackRate(clamped);
    },
    [player],
  );

  const value = useMemo<PlayerState>(
    () => ({
      current,
      queue,
      playing: status.playing,
      position: status.currentTime,
      duration: status.duration,
      speed,
      chapters,
      transcript,
      preparing,
      error,
      offline,
      playStory,
      enqueueStory,
      toggle,
      skip,
      seek,
      setSpeed,
      next,
    }),
    [current, queue, status.playing, status.currentTime, status.duration, speed, chapters, transcript, preparing, error, offline, playStory, enqueueStory, toggle, skip, seek, setSpeed, next],
  );
  return <PlayerContext.Provider value={value}>{children}</PlayerContext.Provider>;
}

export function usePlayer(): PlayerState {
  const value = useContext(PlayerContext);
  if (!value) throw new Error("usePlayer outside PlayerProvider");
  return value;
}

/** The spoken words of a WebVTT transcript, one cue per line. */
export function vttToText(vtt: string): string {
  return vtt
    .split(/\r?\n\r?\n/)
    .map((block) =>
      block
        .split(/\r?\n/)
        .filter((line) => line && !line.includes("-->") && line !== "WEBVTT" && !/^\d+$/.test(line))
        .join(" "),
    )
    .filter(Boolean)
    .join("\n");
}

export function formatTime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}
