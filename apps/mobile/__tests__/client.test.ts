// The API client's token handling, the SSE parser and the player's helpers.
import { ApiClient, ApiError, OfflineError, normalizeServerUrl } from "@/api/client";
import { strings } from "@/i18n/strings";
import { openLive, parseSse } from "@/lib/live";
import { clampSpeed, formatTime, vttToText } from "@/player/player";
import { waitFor } from "@testing-library/react-native";

import { SERVER, TOKENS, memoryTokens, scriptedFetch } from "./harness";

describe("refresh rotation", () => {
  it("refreshes once on 401, keeps the rotated pair, and retries", async () => {
    const tokens = memoryTokens();
    let seen: string[] = [];
    const fetch = scriptedFetch({
      "GET /api/v1/me": (init?: RequestInit) => {
        const auth = (init?.headers as Record<string, string>).Authorization ?? "";
        seen.push(auth);
        return auth === "Bearer access-2" ? { id: 1 } : { status: 401, body: { detail: "expired" } };
      },
      "POST /api/v1/auth/refresh": (init?: RequestInit) => {
        expect(JSON.parse(String(init?.body))).toEqual({ refresh_token: "refresh-1" });
        return { ...TOKENS, access_token: "access-2", refresh_token: "refresh-2" };
      },
    });
    const client = new ApiClient(SERVER, tokens, fetch);
    // Two requests at once share one refresh (the server would treat a second use as reuse).
    await Promise.all([client.me(), client.me()]);
    expect(fetch.calls.filter((c) => c === "POST /api/v1/auth/refresh")).toHaveLength(1);
    expect(tokens.current?.refresh_token).toBe("refresh-2");
    seen = [];
    await client.me();
    expect(seen).toEqual(["Bearer access-2"]);
  });

  it("a refused refresh signs out", async () => {
    const tokens = memoryTokens();
    const signedOut = jest.fn();
    const fetch = scriptedFetch({
      "GET /api/v1/me": { status: 401, body: { detail: "expired" } },
      "POST /api/v1/auth/refresh": { status: 401, body: { detail: "accounts: refresh token reused" } },
    });
    const client = new ApiClient(SERVER, tokens, fetch, signedOut);
    await expect(client.me()).rejects.toBeInstanceOf(ApiError);
    expect(tokens.current).toBeNull();
    expect(signedOut).toHaveBeenCalledTimes(1);
  });

  it("a refresh that fails for a passing reason keeps the session and reports the failure", async () => {
    const tokens = memoryTokens();
    const signedOut = jest.fn();
    let refresh: unknown = { status: 503, body: { detail: "accounts: database busy" } };
    const fetch = scriptedFetch({
      "GET /api/v1/me": (init?: RequestInit) =>
        (init?.headers as Record<string, string>).Authorization === "Bearer access-2" ? { id: 1 } : { status: 401, body: { detail: "expired" } },
      "POST /api/v1/auth/refresh": () => refresh,
    });
    const client = new ApiClient(SERVER, tokens, fetch, signedOut);
    await expect(client.me()).rejects.toMatchObject({ status: 503, detail: "accounts: database busy" });
    refresh = { status: 429, body: { detail: "slow down" } };
    await expect(client.me()).rejects.toMatchObject({ status: 429 });
    refresh = "offline";
    await expect(client.me()).rejects.toBeInstanceOf(OfflineError);
    expect(tokens.current).toEqual(TOKENS);
    expect(signedOut).not.toHaveBeenCalled();
    // Once the server is back, the same refresh token still works.
    refresh = { ...TOKENS, access_token: "access-2", refresh_token: "refresh-2" };
    await expect(client.me()).resolves.toEqual({ id: 1 });
    expect(tokens.current?.refresh_token).toBe("refresh-2");
  });

  it("a refresh refused with 400 signs out too", async () => {
    const tokens = memoryTokens();
    const signedOut = jest.fn();
    const fetch = scriptedFetch({
      "GET /api/v1/me": { status: 401, body: { detail: "expired" } },
      "POST /api/v1/auth/refresh": { status: 400, body: { detail: "accounts: malformed refresh token" } },
    });
    await expect(new ApiClient(SERVER, tokens, fetch, signedOut).me()).rejects.toMatchObject({ status: 401 });
    expect(tokens.current).toBeNull();
    expect(signedOut).toHaveBeenCalledTimes(1);
  });

  it("no network is an OfflineError, not an ApiError", async () => {
    const client = new ApiClient(SERVER, memoryTokens(), scriptedFetch({ "/api/v1/feed": "offline" }));
    await expect(client.feed()).rejects.toBeInstanceOf(OfflineError);
  });

  it("logout works offline", async () => {
    const tokens = memoryTokens();
    const client = new ApiClient(SERVER, tokens, scriptedFetch({ "POST /api/v1/auth/logout": "offline" }));
    await client.logout();
    expect(tokens.current).toBeNull();
  });
});

describe("helpers", () => {
  it("server URLs", () => {
    expect(normalizeServerUrl(" https://news.example.org/ ")).toBe("https://news.example.org");
    expect(() => normalizeServerUrl("news.example.org")).toThrow(/http/);
  });

  it("parses SSE across chunk boundaries", () => {
    const first = parseSse("id: 5\nevent: story.updated\ndata: {\"a\":1}\n\n: keepalive\n\nid: 6\nevent: story.ch");
    expect(first.events).toEqual([{ id: "5", type: "story.updated", data: "{\"a\":1}" }]);
    const second = parseSse(first.rest + "ecked\ndata: x\n\n");
    expect(second.events).toEqual([{ id: "6", type: "story.checked", data: "x" }]);
  });

  it("speed stays within 0.8–2.0", () => {
    expect(clampSpeed(0.5)).toBe(0.8);
    expect(clampSpeed(3)).toBe(2);
    expect(clampSpeed(1.25)).toBe(1.25);
  });

  it("transcripts and times", () => {
    expect(vttToText("WEBVTT\n\n1\n00:00.000 --> 00:02.000\nHello there.\n\n2\n00:02.000 --> 00:04.000\n안녕하세요.")).toBe("Hello there.\n안녕하세요.");
    expect(formatTime(75.4)).toBe("1:15");
  });

  it("every string exists in both languages", () => {
    expect(Object.keys(strings.ko).sort()).toEqual(Object.keys(strings.en).sort());
    for (const value of Object.values(strings.ko)) expect(value.trim()).not.toBe("");
  });
});

/** A stand-in for the platform's XMLHttpRequest: records each request; the test answers it. */
class FakeXhr {
  static made: FakeXhr[] = [];
  headers: Record<string, string> = {};
  status = 0;
  responseText = "";
  aborted = false;
  onprogress: (() => void) | null = null;
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    FakeXhr.made.push(this);
  }
  open() {}
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  send() {}
  abort() {
    this.aborted = true;
  }
  stream(text: string) {
    this.status = 200;
    this.responseText += text;
    this.onprogress?.();
  }
  end(status: number) {
    this.status = status;
    this.onload?.();
  }
}

describe("live updates", () => {
  const realXhr = globalThis.XMLHttpRequest;
  beforeEach(() => {
    FakeXhr.made = [];
    (globalThis as { XMLHttpRequest: unknown }).XMLHttpRequest = FakeXhr;
  });
  afterEach(() => {
    globalThis.XMLHttpRequest = realXhr;
  });

  it("reconnects with the client's current token, refreshing it when the stream answers 401", async () => {
    const tokens = memoryTokens();
    let issued = 1;
    const fetch = scriptedFetch({
      "POST /api/v1/auth/refresh": () => {
        issued += 1;
        return { ...TOKENS, access_token: `access-${issued}`, refresh_token: `refresh-${issued}` };
      },
      "GET /api/v1/me": (init?: RequestInit) =>
        (init?.headers as Record<string, string>).Authorization === "Bearer access-3" ? { id: 1 } : { status: 401, body: { detail: "expired" } },
    });
    const client = new ApiClient(SERVER, tokens, fetch);
    const events: string[] = [];
    const stop = openLive(`${SERVER}/api/v1/stream`, client, (e) => events.push(`${e.id} ${e.type}`), 1);
    await waitFor(() => expect(FakeXhr.made).toHaveLength(1));
    expect(FakeXhr.made[0]?.headers.Authorization).toBe("Bearer access-1");
    FakeXhr.made[0]?.stream("id: 5\nevent: story.updated\ndata: {}\n\n");
    expect(events).toEqual(["5 story.updated"]);

    // The access token expired while the stream was down: the server answers 401.
    FakeXhr.made[0]?.end(401);
    await waitFor(() => expect(FakeXhr.made).toHaveLength(2));
    expect(fetch.calls).toEqual(["POST /api/v1/auth/refresh"]);
    expect(FakeXhr.made[1]?.headers).toMatchObject({ Authorization: "Bearer access-2", "Last-Event-ID": "5" });

    // Another request rotates the tokens meanwhile; a plain drop then reconnects with the
    // client's token of that moment, without a refresh of its own.
    await client.me();
    expect(tokens.current?.access_token).toBe("access-3");
    FakeXhr.made[1]?.end(200);
    await waitFor(() => expect(FakeXhr.made).toHaveLength(3));
    expect(FakeXhr.made[2]?.headers.Authorization).toBe("Bearer access-3");
    expect(fetch.calls.filter((c) => c === "POST /api/v1/auth/refresh")).toHaveLength(2);
    stop();
    expect(FakeXhr.made[2]?.aborted).toBe(true);
  });

  it("stops when the refresh is refused (signed out)", async () => {
    const tokens = memoryTokens();
    const fetch = scriptedFetch({ "POST /api/v1/auth/refresh": { status: 401, body: { detail: "accounts: refresh token reused" } } });
    const client = new ApiClient(SERVER, tokens, fetch);
    const stop = openLive(`${SERVER}/api/v1/stream`, client, () => undefined, 1);
    await waitFor(() => expect(FakeXhr.made).toHaveLength(1));
    FakeXhr.made[0]?.end(401);
    await waitFor(() => expect(tokens.current).toBeNull());
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(FakeXhr.made).toHaveLength(1);
    stop();
  });
});
