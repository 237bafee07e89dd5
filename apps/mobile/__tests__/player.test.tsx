// The player: offline copies, its states (preparing, error, offline) and every control, driven
// through the real story and player screens, provider and API client with a scripted network.
import AsyncStorage from "@react-native-async-storage/async-storage";
import { createAudioPlayer } from "expo-audio";
import * as ExpoAudio from "expo-audio";
import { router } from "expo-router";
import { act, fireEvent, screen, waitFor } from "expo-router/testing-library";

import MainLayout from "../app/(main)/_layout";
import PlayerScreen from "../app/(main)/player";
import StoryScreen from "../app/(main)/story/[id]";
import type { AudioStatus } from "@/api/types";
import type { FetchLike } from "@/api/client";
import { download } from "@/player/downloads";
import { SERVER, renderApp, scriptedFetch } from "./harness";
import type { Routes } from "./harness";

const routes = {
  "(main)/_layout": MainLayout,
  "(main)/story/[id]": StoryScreen,
  "(main)/player": PlayerScreen,
};

const player = createAudioPlayer(null);
const setStatus = (ExpoAudio as unknown as { __setStatus: (s: object) => void }).__setStatus;

const TITLES: Record<number, string> = { 7: "Central bank holds rate", 8: "Storm nears the coast" };

function storyBody(id: number) {
  return {
    id,
    title: TITLES[id],
    summary: [],
    category: "economy",
    languages: ["en"],
    keywords: [],
    article_count: 1,
    outlet_count: 1,
    last_seen_at: "2026-12-04T10:00:00Z",
    trending: { score: 0, reason: null },
    coverage: [],
  };
}

function audio(storyId: number, extra: Partial<AudioStatus> = {}): AudioStatus {
  const id = `a${storyId}`;
  return {
    id,
    status: "ready",
    status_url: `/api/v1/voice/${id}`,
    format: "opus",
    url: `/media/${id}.opus`,
    transcript_url: `/media/${id}.vtt`,
    chapters_url: `/media/${id}.chapters.json`,
    duration_s: 300,
    lang: "en",
    error: null,
    playback_speed: null,
    ...extra,
  };
}

/** A server with stories 7 and 8 whose briefings are ready at once. */
function online(extra: Routes = {}) {
  return scriptedFetch({
    "/api/v1/stories/7": storyBody(7),
    "/api/v1/stories/8": storyBody(8),
    "/api/v1/stories/7/factcheck": { story_id: 7, checked_at: null, verdicts: {}, claims: [] },
    "/api/v1/stories/8/factcheck": { story_id: 8, checked_at: null, verdicts: {}, claims: [] },
    "POST /api/v1/voice": (init?: RequestInit) => audio(JSON.parse(String(init?.body)).story_id),
    "/media/a7.chapters.json": { chapters: [{ startTime: 0, title: "Intro" }, { startTime: 60, title: "Markets" }] },
    "/media/a7.vtt": "WEBVTT\n\n1\n00:00.000 --> 00:02.000\nThe bank held its rate.",
    "/media/a8.chapters.json": { chapters: [] },
    "/media/a8.vtt": "WEBVTT\n",
    "GET /api/v1/me/positions/a7": { position_s: 0 },
    "GET /api/v1/me/positions/a8": { position_s: 0 },
    "PUT /api/v1/me/positions/a7": { position_s: 0 },
    "PUT /api/v1/me/positions/a8": { position_s: 0 },
    ...extra,
  });
}

/** No network at all: every request fails the way fetch fails without one. */
function offlineFetch(): FetchLike & { calls: string[] } {
  const calls: string[] = [];
  const fn = async (input: string, init?: RequestInit): Promise<Response> => {
    calls.push(`${init?.method ?? "GET"} ${input.replace(SERVER, "").split("?")[0]}`);
    throw new TypeError("Network request failed");
  };
  return Object.assign(fn, { calls });
}

async function keepStory(id: number) {
  // What the story screen kept when it was last loaded online (useLoad's cache).
  await AsyncStorage.setItem(`newstalk.story.${id}`, JSON.stringify(storyBody(id)));
}

async function downloadStory(id: number): Promise<string> {
  return download(SERVER, id, TITLES[id] ?? "", audio(id), `${SERVER}/media/a${id}.opus`);
}

async function listenTo(id: number) {
  fireEvent.press(await screen.findByTestId("listen"));
  await waitFor(() => expect(player.replace).toHaveBeenLastCalledWith({ uri: `${SERVER}/media/a${id}.opus` }));
}

const go = (path: string) => act(() => router.push(path));

beforeEach(async () => {
  await AsyncStorage.clear();
  jest.clearAllMocks();
  setStatus({});
});

describe("offline playback", () => {
  it("plays a download from the Downloaded list while every request fails", async () => {
    const uri = await downloadStory(7);
    const fetch = offlineFetch();
    renderApp({ url: "/player", routes, fetch });
    expect(await screen.findByText("Downloaded")).toBeTruthy();
    fireEvent.press(screen.getByTestId("downloaded-7"));
    await waitFor(() => expect(player.replace).toHaveBeenCalledWith({ uri }));
    expect(uri.startsWith("file://")).toBe(true);
    expect(player.play).toHaveBeenCalled();
    // The title heads the player and stays in the Downloaded list.
    await waitFor(() => expect(screen.getAllByText("Central bank holds rate")).toHaveLength(2));
    expect(fetch.calls).not.toContain("POST /api/v1/voice");
  });

  it("Listen on a downloaded story plays the copy without asking the server", async () => {
    const uri = await downloadStory(7);
    await keepStory(7);
    const fetch = offlineFetch();
    renderApp({ url: "/story/7", routes, fetch });
    fireEvent.press(await screen.findByTestId("listen"));
    await waitFor(() => expect(player.replace).toHaveBeenCalledWith({ uri }));
    expect(fetch.calls).not.toContain("POST /api/v1/voice");
    expect(screen.queryByTestId("audio-offline")).toBeNull();
  });

  it("Listen offline without a download says so", async () => {
    await keepStory(7);
    renderApp({ url: "/story/7", routes, fetch: offlineFetch() });
    fireEvent.press(await screen.findByTestId("listen"));
    expect(await screen.findByText("You are offline and this story is not downloaded.")).toBeTruthy();
    expect(player.replace).not.toHaveBeenCalled();
    await go("/player");
    expect(await screen.findByTestId("audio-offline")).toBeTruthy();
  });

  it("downloads the playing briefing, lists it, and removes it", async () => {
    renderApp({ url: "/story/7", routes, fetch: online() });
    await listenTo(7);
    await go("/player");
    fireEvent.press(await screen.findByTestId("download"));
    expect(await screen.findByText("Remove download")).toBeTruthy();
    expect(await screen.findByTestId("downloaded-7")).toBeTruthy();
    fireEvent.press(screen.getByTestId("download"));
    expect(await screen.findByText("Download")).toBeTruthy();
    await waitFor(() => expect(screen.queryByTestId("downloaded-7")).toBeNull());
  });
});

describe("player screen", () => {
  it("shows that the audio is being prepared", async () => {
    renderApp({ url: "/story/7", routes, fetch: online({ "POST /api/v1/voice": "pending" }) });
    fireEvent.press(await screen.findByTestId("listen"));
    await go("/player");
    expect(await screen.findByTestId("preparing")).toBeTruthy();
    expect(screen.getByText("Preparing audio…")).toBeTruthy();
  });

  it("shows why the audio could not be made", async () => {
    renderApp({ url: "/story/7", routes, fetch: online({ "POST /api/v1/voice": audio(7, { status: "failed", url: null, error: "speech: engine crashed" }) }) });
    fireEvent.press(await screen.findByTestId("listen"));
    expect(await screen.findByTestId("audio-error")).toBeTruthy();
    await go("/player");
    expect(await screen.findByText("The audio could not be made. speech: engine crashed")).toBeTruthy();
    expect(screen.getByText(/Nothing is playing/)).toBeTruthy();
  });

  it("±15 s, speed, chapters, transcript and play/pause", async () => {
    setStatus({ playing: true, currentTime: 100, duration: 300 });
    renderApp({ url: "/story/7", routes, fetch: online() });
    await listenTo(7);
    await go("/player");
    expect(await screen.findByText("1:40 / 5:00")).toBeTruthy();
    fireEvent.press(screen.getByTestId("back15"));
    expect(player.seekTo).toHaveBeenLastCalledWith(85);
    fireEvent.press(screen.getByTestId("forward15"));
    expect(player.seekTo).toHaveBeenLastCalledWith(115);

    expect(screen.getAllByText(/^\d(\.\d+)?×$/).map((n) => n.props.children)).toEqual(["0.8×", "1×", "1.25×", "1.5×", "1.75×", "2×"]);
    fireEvent.press(screen.getByTestId("speed-1.5"));
    expect(player.setPlaybackRate).toHaveBeenLastCalledWith(1.5);
    fireEvent.press(screen.getByTestId("speed-0.8"));
    expect(player.setPlaybackRate).toHaveBeenLastCalledWith(0.8);

    fireEvent.press(await screen.findByText("1:00 Markets"));
    expect(player.seekTo).toHaveBeenLastCalledWith(60);
    expect(await screen.findByText("The bank held its rate.")).toBeTruthy();

    fireEvent.press(screen.getByText("Pause"));
    expect(player.pause).toHaveBeenCalledTimes(1);
  });

  it("resumes where the server says and saves the position on pause", async () => {
    setStatus({ playing: false, currentTime: 42, duration: 300 });
    const saved: unknown[] = [];
    const fetch = online({
      "GET /api/v1/me/positions/a7": { position_s: 42 },
      "PUT /api/v1/me/positions/a7": (init?: RequestInit) => {
        saved.push(JSON.parse(String(init?.body)));
        return { position_s: 42 };
      },
    });
    renderApp({ url: "/story/7", routes, fetch });
    await listenTo(7);
    await waitFor(() => expect(player.seekTo).toHaveBeenCalledWith(42));
    await waitFor(() => expect(saved).toContainEqual({ position_s: 42 }));
    expect(JSON.parse((await AsyncStorage.getItem("newstalk.positions")) ?? "{}")).toEqual({ a7: 42 });
  });

  it("queues a second story and plays it with Next", async () => {
    renderApp({ url: "/story/7", routes, fetch: online() });
    await listenTo(7);
    // The story that plays is not offered for the queue.
    await waitFor(() => expect(screen.queryByTestId("add-to-queue")).toBeNull());
    await go("/story/8");
    expect(await screen.findByText("Storm nears the coast")).toBeTruthy();
    fireEvent.press(screen.getByTestId("add-to-queue"));
    expect(await screen.findByText("In the queue")).toBeTruthy();
    await go("/player");
    expect(await screen.findByTestId("queued")).toBeTruthy();
    expect(screen.getByTestId("queued").props.children).toBe("Storm nears the coast");
    fireEvent.press(screen.getByTestId("next"));
    await waitFor(() => expect(player.replace).toHaveBeenLastCalledWith({ uri: `${SERVER}/media/a8.opus` }));
    expect(await screen.findByText("The queue is empty.")).toBeTruthy();
  });
});

describe("story screen queue", () => {
  it("Add to queue plays at once when nothing plays, in Korean too", async () => {
    renderApp({ url: "/story/8", routes, fetch: online(), locale: "ko" });
    fireEvent.press(await screen.findByText("재생 목록에 추가"));
    await waitFor(() => expect(player.replace).toHaveBeenCalledWith({ uri: `${SERVER}/media/a8.opus` }));
    expect(screen.queryByTestId("in-queue")).toBeNull();
  });
});
