// Every screen's states: loading, empty, error, offline (and the data it shows when loaded).
import AsyncStorage from "@react-native-async-storage/async-storage";
import { fireEvent, screen, waitFor } from "expo-router/testing-library";

import MainLayout from "../app/(main)/_layout";
import AskScreen from "../app/(main)/ask";
import PlayerScreen from "../app/(main)/player";
import SearchScreen from "../app/(main)/search";
import SettingsScreen from "../app/(main)/settings";
import StoryScreen from "../app/(main)/story/[id]";
import TodayScreen from "../app/(main)/today";
import ServerScreen from "../app/server";
import SignInScreen from "../app/signin";
import { keys } from "@/lib/storage";
import { SERVER, memoryTokens, renderApp, scriptedFetch } from "./harness";
import type { Routes } from "./harness";

const routes = {
  "(main)/_layout": MainLayout,
  "(main)/today": TodayScreen,
  "(main)/story/[id]": StoryScreen,
  "(main)/ask": AskScreen,
  "(main)/search": SearchScreen,
  "(main)/settings": SettingsScreen,
  "(main)/player": PlayerScreen,
  signin: SignInScreen,
  server: ServerScreen,
};

const feedItem = {
  story_id: 7,
  rank: 1,
  score: 0.9,
  reason: "follows",
  why: "You follow economy",
  title: "Central bank holds rate",
  category: "economy",
  languages: ["en"],
  keywords: ["rate"],
  outlets: ["Harbor Times"],
  article_count: 3,
  outlet_count: 2,
  last_seen_at: "2026-12-04T10:00:00Z",
};
const trend = {
  id: 8,
  title: "Storm nears the coast",
  summary: [],
  category: "society",
  languages: ["en"],
  keywords: [],
  article_count: 2,
  outlet_count: 2,
  last_seen_at: "2026-12-04T10:00:00Z",
  trending: { score: 3, reason: "3x the usual coverage" },
};
const story = {
  ...trend,
  id: 7,
  title: "Central bank holds rate",
  summary: ["The bank kept its rate at 3.25 percent."],
  coverage: [
    { source_id: 1, outlet: "Harbor Times", articles: 2, headline: "Rate held", url: "https://h.test/1", language: "en" },
    { source_id: 2, outlet: "한빛일보", articles: 1, headline: "기준금리 동결", url: "https://k.test/1", language: "ko" },
  ],
};
const factcheck = {
  story_id: 7,
  checked_at: "2026-12-04T10:00:00Z",
  verdicts: { supported: 1 },
  claims: [
    {
      id: 1,
      text: "Eight of ten economists expected a hold.",
      outlet: "Harbor Times",
      verdict: "disputed",
      confidence: 0.7,
      explanation: "Outlets give different numbers.",
      evidence: [
        { outlet: "Northern Wire", url: "https://n.test", quote: "seven of ten expected", stance: "refutes", score: 0.8, conflicts: ["8 vs 7"] },
        { outlet: "한빛일보", url: "https://k.test", quote: "동결을 예상", stance: "supports", score: 0.6, conflicts: [] },
      ],
    },
  ],
};

function today(extra: Routes = {}) {
  return scriptedFetch({ "/api/v1/feed": { items: [feedItem], next_cursor: null, as_of: "" }, "/api/v1/trending": [trend], ...extra });
}

beforeEach(async () => {
  await AsyncStorage.clear();
});

describe("today", () => {
  it("shows loading while the feed is on its way", async () => {
    renderApp({ url: "/today", routes, fetch: scriptedFetch({ "/api/v1/feed": "pending", "/api/v1/trending": "pending" }) });
    await waitFor(() => expect(screen.getAllByTestId("state-loading")).toHaveLength(2));
    expect(screen.getByText("For you")).toBeTruthy();
  });

  it("shows the feed with reasons and what is trending", async () => {
    renderApp({ url: "/today", routes, fetch: today() });
    expect(await screen.findByText("Central bank holds rate")).toBeTruthy();
    expect(screen.getByText("Why: You follow economy")).toBeTruthy();
    expect(await screen.findByText("Storm nears the coast")).toBeTruthy();
    expect(screen.getByText("3x the usual coverage")).toBeTruthy();
  });

  it("says why a story trends in the UI's language when the server gives it", async () => {
    const reasons = { en: "3 outlets in 20 minutes, about the usual pace for world", ko: "20분 동안 언론사 3곳: 국제 분야 평소 속도" };
    const localized = { ...trend, trending: { score: 3, reason: reasons.en, reasons } };
    renderApp({ url: "/today", routes, locale: "ko", fetch: today({ "/api/v1/trending": [localized] }) });
    expect(await screen.findByText(reasons.ko)).toBeTruthy();
    expect(screen.queryByText(reasons.en)).toBeNull();
  });

  it("says so when the feed and trending are empty", async () => {
    renderApp({ url: "/today", routes, fetch: today({ "/api/v1/feed": { items: [], next_cursor: null, as_of: "" }, "/api/v1/trending": [] }) });
    expect(await screen.findByText(/Nothing in your feed yet/)).toBeTruthy();
    expect(screen.getByText("Nothing is trending right now.")).toBeTruthy();
  });

  it("shows the server's error with a retry", async () => {
    renderApp({ url: "/today", routes, fetch: today({ "/api/v1/feed": { status: 500, body: { detail: "feed: index not ready" } } }) });
    expect(await screen.findByText("HTTP 500: feed: index not ready")).toBeTruthy();
    expect(screen.getByTestId("state-error")).toBeTruthy();
  });

  it("offline: shows the last loaded feed", async () => {
    await AsyncStorage.setItem(keys.feedCache(SERVER), JSON.stringify({ items: [feedItem], next_cursor: null, as_of: "" }));
    renderApp({ url: "/today", routes, fetch: scriptedFetch({ "/api/v1/feed": "offline", "/api/v1/trending": "offline" }) });
    expect(await screen.findByText("Central bank holds rate")).toBeTruthy();
    expect(screen.getByText("You are offline. Showing what was last loaded.")).toBeTruthy();
  });

  it("offline with nothing kept says so", async () => {
    renderApp({ url: "/today", routes, fetch: scriptedFetch({ "/api/v1/feed": "offline", "/api/v1/trending": "offline" }) });
    expect(await screen.findByText("You are offline and nothing has been loaded yet.")).toBeTruthy();
  });

  it("speaks Korean", async () => {
    renderApp({ url: "/today", routes, fetch: today(), locale: "ko" });
    expect(await screen.findByText("맞춤 뉴스")).toBeTruthy();
    expect(screen.getByText("지금 뜨는 뉴스")).toBeTruthy();
  });

  it("sends a signed-out listener to sign in", async () => {
    const r = renderApp({ url: "/today", routes, fetch: today(), tokens: memoryTokens(null) });
    await waitFor(() => expect(r.getPathname()).toBe("/signin"));
  });
});

describe("story", () => {
  const fetchFor = (extra: Routes = {}) =>
    scriptedFetch({ "/api/v1/stories/7": story, "/api/v1/stories/7/factcheck": factcheck, ...extra });

  it("loading", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor({ "/api/v1/stories/7": "pending" }) });
    expect(await screen.findByTestId("state-loading")).toBeTruthy();
  });

  it("shows coverage by outlet and the fact-check with conflicts highlighted", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor() });
    expect(await screen.findByText("Harbor Times")).toBeTruthy();
    expect(screen.getAllByTestId("coverage")).toHaveLength(2);
    expect(screen.getByText("Rate held · 2 articles · en")).toBeTruthy();
    expect(screen.getByText("기준금리 동결 · 1 article · ko")).toBeTruthy();
    expect(await screen.findByText("“seven of ten expected”")).toBeTruthy();
    expect(screen.getAllByTestId("evidence-conflict")).toHaveLength(1);
    expect(screen.getAllByTestId("evidence")).toHaveLength(1);
    expect(screen.getByText("Conflicts: 8 vs 7")).toBeTruthy();
  });

  it("verdicts and stances are words of the UI's language", async () => {
    const withUnknown = { ...factcheck, claims: [...factcheck.claims, { ...factcheck.claims[0], id: 2, text: "Second claim.", verdict: "pending-review", evidence: [] }] };
    renderApp({ url: "/story/7", routes, fetch: fetchFor({ "/api/v1/stories/7/factcheck": withUnknown }), locale: "ko" });
    expect(await screen.findByText("논란 있음 · 70% · Harbor Times")).toBeTruthy();
    expect(screen.getByText("Northern Wire · 반박")).toBeTruthy();
    expect(screen.getByText("한빛일보 · 뒷받침")).toBeTruthy();
    // A verdict this build does not know is shown as the server sent it.
    expect(screen.getByText("pending-review · 70% · Harbor Times")).toBeTruthy();
  });

  it("in English too", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor() });
    expect(await screen.findByText("Disputed · 70% · Harbor Times")).toBeTruthy();
    expect(screen.getByText("Northern Wire · Refutes")).toBeTruthy();
  });

  it("an unchecked story says so", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor({ "/api/v1/stories/7/factcheck": { ...factcheck, claims: [] } }) });
    expect(await screen.findByText("No claims checked yet.")).toBeTruthy();
  });

  it("error", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor({ "/api/v1/stories/7": { status: 404, body: { detail: "stories: no story 7" } } }) });
    expect(await screen.findByText("HTTP 404: stories: no story 7")).toBeTruthy();
  });

  it("offline", async () => {
    renderApp({ url: "/story/7", routes, fetch: fetchFor({ "/api/v1/stories/7": "offline" }) });
    expect(await screen.findByTestId("state-offline")).toBeTruthy();
  });
});

describe("ask", () => {
  const turn = {
    position: 1,
    question: "What rate?",
    answer: "3.25 percent.",
    found: true,
    citations: [{ outlet: "Harbor Times", url: "https://h.test/1", quote: "kept its rate at 3.25 percent" }],
    created_at: "",
  };

  it("asks the listener to pick a story first", async () => {
    renderApp({ url: "/ask", routes, fetch: scriptedFetch({}) });
    expect(await screen.findByText(/Open a story and choose/)).toBeTruthy();
  });

  it("empty, then an answer with cited quotes in a thread", async () => {
    const fetch = scriptedFetch({ "POST /api/v1/stories/7/ask": { thread_id: 3, story_id: 7, turn } });
    renderApp({ url: "/ask?story=7", routes, fetch });
    expect(await screen.findByText(/cited answers appear here/)).toBeTruthy();
    fireEvent.changeText(screen.getByTestId("ask-input"), "What rate?");
    fireEvent.press(screen.getByTestId("ask-send"));
    expect(await screen.findByText("3.25 percent.")).toBeTruthy();
    expect(screen.getByText("“kept its rate at 3.25 percent”")).toBeTruthy();
  });

  it("loading while the answer is on its way", async () => {
    renderApp({ url: "/ask?story=7", routes, fetch: scriptedFetch({ "POST /api/v1/stories/7/ask": "pending" }) });
    fireEvent.changeText(await screen.findByTestId("ask-input"), "What rate?");
    fireEvent.press(screen.getByTestId("ask-send"));
    expect(await screen.findByText("Loading…")).toBeTruthy();
    expect(screen.getByTestId("ask-send").props.accessibilityState).toMatchObject({ disabled: true });
    expect(screen.queryByTestId("turn")).toBeNull();
  });

  it("error and offline", async () => {
    let reply: unknown = { status: 429, body: { detail: "ask: slow down" } };
    renderApp({ url: "/ask?story=7", routes, fetch: scriptedFetch({ "POST /api/v1/stories/7/ask": () => reply }) });
    fireEvent.changeText(await screen.findByTestId("ask-input"), "Why?");
    fireEvent.press(screen.getByTestId("ask-send"));
    expect(await screen.findByText("ask: slow down")).toBeTruthy();
    reply = "offline";
    fireEvent.press(screen.getByTestId("ask-send"));
    expect(await screen.findByTestId("state-offline")).toBeTruthy();
  });
});

describe("search", () => {
  const type = async (text: string) => fireEvent.changeText(await screen.findByTestId("search-input"), text);

  it("hints until two characters, then shows results", async () => {
    renderApp({
      url: "/search",
      routes,
      fetch: scriptedFetch({ "/api/v1/search": { query: "rate", items: [{ type: "story", id: 7, title: "Central bank holds rate", snippet: "kept", outlet: null, story_id: 7 }], next_cursor: null } }),
    });
    expect(await screen.findByText("Type at least two characters.")).toBeTruthy();
    await type("rate");
    expect(await screen.findByText("Central bank holds rate")).toBeTruthy();
  });

  it("loading while the results are on their way", async () => {
    renderApp({ url: "/search", routes, fetch: scriptedFetch({ "/api/v1/search": "pending" }) });
    await type("rate");
    expect(await screen.findByTestId("state-loading")).toBeTruthy();
    expect(screen.queryByTestId("search-hit")).toBeNull();
  });

  it("empty, error and offline", async () => {
    let reply: unknown = { query: "zz", items: [], next_cursor: null };
    renderApp({ url: "/search", routes, fetch: scriptedFetch({ "/api/v1/search": () => reply }) });
    await type("zz");
    expect(await screen.findByText("No results.")).toBeTruthy();
    reply = { status: 422, body: { detail: "search: query too long" } };
    await type("zzz");
    expect(await screen.findByText("HTTP 422: search: query too long")).toBeTruthy();
    reply = "offline";
    await type("zzzz");
    expect(await screen.findByTestId("state-offline")).toBeTruthy();
  });
});

describe("settings", () => {
  const prefs = { categories: ["economy"], keywords: [], outlets: [], languages: ["en"], muted_topics: [], muted_outlets: [], voice: "anchor", playback_speed: 1.25 };

  it("loading", async () => {
    renderApp({ url: "/settings", routes, fetch: scriptedFetch({ "/api/v1/me/preferences": "pending" }) });
    expect(await screen.findByTestId("state-loading")).toBeTruthy();
  });

  it("edits and saves preferences", async () => {
    const saved: unknown[] = [];
    const fetch = scriptedFetch({
      "GET /api/v1/me/preferences": prefs,
      "PUT /api/v1/me/preferences": (init?: RequestInit) => {
        saved.push(JSON.parse(String(init?.body)));
        return prefs;
      },
    });
    renderApp({ url: "/settings", routes, fetch });
    fireEvent.changeText(await screen.findByTestId("pref-muted_topics"), "sports, weather");
    fireEvent.press(screen.getByTestId("pref-save"));
    expect(await screen.findByText("Saved")).toBeTruthy();
    expect(saved[0]).toMatchObject({ categories: ["economy"], muted_topics: ["sports", "weather"], playback_speed: 1.25 });
  });

  it("error and offline", async () => {
    renderApp({ url: "/settings", routes, fetch: scriptedFetch({ "/api/v1/me/preferences": { status: 503, body: { detail: "database busy" } } }) });
    expect(await screen.findByText("HTTP 503: database busy")).toBeTruthy();
  });

  it("offline", async () => {
    renderApp({ url: "/settings", routes, fetch: scriptedFetch({ "/api/v1/me/preferences": "offline" }) });
    expect(await screen.findByTestId("state-offline")).toBeTruthy();
  });

  it("deletes the account after confirmation and signs out", async () => {
    const tokens = memoryTokens();
    const fetch = scriptedFetch({ "GET /api/v1/me/preferences": prefs, "DELETE /api/v1/me": { status: 204, body: undefined } });
    const r = renderApp({ url: "/settings", routes, fetch, tokens });
    fireEvent.press(await screen.findByTestId("delete-account"));
    fireEvent.press(screen.getByTestId("confirm-delete"));
    await waitFor(() => expect(r.getPathname()).toBe("/signin"));
    expect(fetch.calls).toContain("DELETE /api/v1/me");
    expect(tokens.current).toBeNull();
  });
});

describe("player", () => {
  it("empty until something plays", async () => {
    renderApp({ url: "/player", routes, fetch: scriptedFetch({}) });
    expect(await screen.findByText(/Nothing is playing/)).toBeTruthy();
  });
});

describe("sign in", () => {
  it("is busy while the server answers", async () => {
    renderApp({ url: "/signin", routes, fetch: scriptedFetch({ "POST /api/v1/auth/login": "pending" }), tokens: memoryTokens(null) });
    fireEvent.changeText(await screen.findByTestId("email"), "minji@example.org");
    fireEvent.changeText(screen.getByTestId("password"), "long-enough-password");
    fireEvent.press(screen.getByTestId("signin-submit"));
    expect(await screen.findByText("Loading…")).toBeTruthy();
    expect(screen.getByTestId("signin-submit").props.accessibilityState).toMatchObject({ disabled: true });
  });

  it("shows the server's refusal, and the offline message", async () => {
    let reply: unknown = { status: 401, body: { detail: "accounts: wrong email or password" } };
    renderApp({ url: "/signin", routes, fetch: scriptedFetch({ "POST /api/v1/auth/login": () => reply }), tokens: memoryTokens(null) });
    fireEvent.changeText(await screen.findByTestId("email"), "minji@example.org");
    fireEvent.changeText(screen.getByTestId("password"), "wrong-password");
    fireEvent.press(screen.getByTestId("signin-submit"));
    expect(await screen.findByText("accounts: wrong email or password")).toBeTruthy();
    reply = "offline";
    fireEvent.press(screen.getByTestId("signin-submit"));
    expect(await screen.findByText("That server did not answer.")).toBeTruthy();
  });

  it("signs in and lands on today", async () => {
    const tokens = memoryTokens(null);
    const fetch = today({ "POST /api/v1/auth/login": { user: { id: 1, email: "m@x.org", display_name: "", role: "listener" }, tokens: { access_token: "a", token_type: "bearer", expires_in: 900, refresh_token: "r", refresh_expires_in: 9 } } });
    const r = renderApp({ url: "/signin", routes, fetch, tokens });
    fireEvent.changeText(await screen.findByTestId("email"), "m@x.org");
    fireEvent.changeText(screen.getByTestId("password"), "long-enough-password");
    fireEvent.press(screen.getByTestId("signin-submit"));
    await waitFor(() => expect(r.getPathname()).toBe("/today"));
    expect(tokens.current?.access_token).toBe("a");
  });
});

describe("server choice", () => {
  const choose = async (url: string) => {
    fireEvent.changeText(await screen.findByTestId("server-url"), url);
    fireEvent.press(screen.getByTestId("server-continue"));
  };

  it("a server that does not answer, or answers with an error, is refused", async () => {
    let reply: unknown = "offline";
    const fetch = scriptedFetch({ "/health": () => reply });
    const r = renderApp({ url: "/server", routes, fetch, server: null, tokens: memoryTokens(null) });
    await choose("http://news.test/");
    expect(await screen.findByText("That server did not answer.")).toBeTruthy();
    reply = { status: 502, body: { detail: "bad gateway" } };
    await choose("http://news.test");
    await waitFor(() => expect(fetch.calls.filter((c) => c === "GET /health")).toHaveLength(2));
    expect(await screen.findByTestId("server-error")).toBeTruthy();
    expect(r.getPathname()).toBe("/server");
    expect(await AsyncStorage.getItem(keys.server)).toBeNull();
  });

  it("an address without http(s) is refused before any request, in Korean too", async () => {
    const fetch = scriptedFetch({ "/health": { status: "ok" } });
    renderApp({ url: "/server", routes, fetch, server: null, tokens: memoryTokens(null), locale: "ko" });
    await choose("news.test");
    expect(await screen.findByText(/http:\/\/ 또는 https:\/\/로 시작/)).toBeTruthy();
    expect(fetch.calls).toEqual([]);
  });

  it("checks, then keeps the server and goes on to sign in", async () => {
    // The health check waits for the test, so the busy state can be seen.
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const health = scriptedFetch({ "/health": { status: "ok" } });
    const gated = Object.assign(async (input: string, init?: RequestInit) => gate.then(() => health(input, init)), { calls: health.calls });
    const r = renderApp({ url: "/server", routes, fetch: gated, server: null, tokens: memoryTokens(null) });
    await choose("http://news.test/");
    expect(await screen.findByText("Checking…")).toBeTruthy();
    expect(screen.getByTestId("server-continue").props.accessibilityState).toMatchObject({ disabled: true });
    release();
    await waitFor(() => expect(r.getPathname()).toBe("/signin"));
    expect(JSON.parse((await AsyncStorage.getItem(keys.server)) ?? "null")).toBe(SERVER);
    expect(health.calls).toEqual(["GET /health"]);
  });
});
