// The one HTTP client: base URL, bearer tokens, refresh rotation, problem+json errors.
import type {
  AskResult,
  AudioStatus,
  AuthResult,
  Chapter,
  FeedPage,
  Preferences,
  SearchPage,
  StoryDetail,
  StoryFactcheck,
  StorySummary,
  ThreadDetail,
  Tokens,
  User,
} from "./types";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface TokenStore {
  load(): Promise<Tokens | null>;
  save(tokens: Tokens): Promise<void>;
  clear(): Promise<void>;
}

/** The server answered with an error status; `detail` is its problem+json message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`HTTP ${status}: ${detail}`);
    this.name = "ApiError";
  }
}

/** The request never reached the server (no network, server down, wrong URL). */
export class OfflineError extends Error {
  constructor(cause: unknown) {
    super(`network: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = "OfflineError";
  }
}

export function normalizeServerUrl(raw: string): string {
  const trimmed = raw.trim().replace(/\/+$/, "");
  if (!/^https?:\/\/[^\s/]+/i.test(trimmed)) {
    throw new Error("server URL must start with http:// or https://");
  }
  return trimmed;
}

interface RequestOptions {
  method?: string;
  body?: unknown;
  auth?: boolean;
  signal?: AbortSignal;
}

export class ApiClient {
  private tokens: Tokens | null = null;
  private loaded = false;
  private refreshing: Promise<boolean> | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly store: TokenStore,
    private readonly fetchImpl: FetchLike = (input, init) => fetch(input, init),
    private readonly onSignedOut: () => void = () => undefined,
  ) {}

  url(path: string): string {
    return path.startsWith("http") ? path : `${this.baseUrl}${path}`;
  }

  async accessToken(): Promise<string | null> {
    if (!this.loaded) {
      this.tokens = await this.store.load();
      this.loaded = true;
    }
    return this.tokens?.access_token ?? null;
  }

  async isSignedIn(): Promise<boolean> {
    return (await this.accessToken()) !== null;
  }

  private async send(path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const token = opts.auth === false ? null : await this.accessToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetchImpl(this.url(path), {
        method: opts.method ?? "GET",
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: opts.signal,
      });
    } catch (err) {
      if (err instanceof Error && err.name === "AbortError") throw err;
      throw new OfflineError(err);
    }
  }

  /**
   * Exchanges the refresh token for a new pair; concurrent callers share one exchange.
   * Resolves false when the server refused the refresh token (400/401: expired, reused,
   * revoked), which signs out. Any other failure (5xx, 429, no network) is transient: the
   * tokens are kept and the ApiError or OfflineError is thrown to the caller.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    await this.accessToken();
    const current = this.tokens;
    if (!current) return false;
    const res = await this.send("/api/v1/auth/refresh", {
      method: "POST",
      body: { refresh_token: current.refresh_token },
      auth: false,
    });
    if (res.status === 400 || res.status === 401) {
      // A rejected refresh token (expired, reused, revoked) ends the session.
      await this.forget();
      return false;
    }
    if (!res.ok) throw new ApiError(res.status, await problemDetail(res));
    await this.setTokens((await res.json()) as Tokens);
    return true;
  }

  private async setTokens(tokens: Tokens): Promise<void> {
    this.tokens = tokens;
    this.loaded = true;
    await this.store.save(tokens);
  }

  private async forget(): Promise<void> {
    const had = this.tokens !== null;
    this.tokens = null;
    this.loaded = true;
    await this.store.clear();
    if (had) this.onSignedOut();
  }

  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    let res = await this.send(path, opts);
    if (res.status === 401 && opts.auth !== false && this.tokens) {
      if (await this.refresh()) res = await this.send(path, opts);
    }
    if (!res.ok) throw new ApiError(res.status, await problemDetail(res));
    if (res.status === 204 || res.status === 202) {
      const text = await res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    }
    return (await res.json()) as T;
  }

  async login(email: string, password: string): Promise<User> {
    const result = await this.request<AuthResult>("/api/v1/auth/login", {
      method: "POST",
      body: { email, password },
      auth: false,
    });
    await this.setTokens(result.tokens);
    return result.user;
  }

  async register(email: string, password: string, displayName: string): Promise<User> {
    await this.request("/api/v1/auth/register", {
      method: "POST",
      body: { email, password, display_name: displayName },
      auth: false,
    });
    return this.login(email, password);
  }

  async logout(): Promise<void> {
    try {
      await this.request("/api/v1/auth/logout", { method: "POST" });
    } catch {
      // Signing out locally must work offline; the server session expires on its own.
    }
    await this.forget();
  }

  async deleteAccount(): Promise<void> {
    await this.request("/api/v1/me", { method: "DELETE" });
    await this.forget();
  }

  me(): Promise<User> {
    return this.request<User>("/api/v1/me");
  }

  feed(): Promise<FeedPage> {
    return this.request<FeedPage>("/api/v1/feed?limit=20");
  }

  trending(): Promise<StorySummary[]> {
    return this.request<StorySummary[]>("/api/v1/trending?limit=10", { auth: false });
  }

  story(id: number): Promise<StoryDetail> {
    return this.request<StoryDetail>(`/api/v1/stories/${id}`);
  }

  factcheck(id: number): Promise<StoryFactcheck> {
    return this.request<StoryFactcheck>(`/api/v1/stories/${id}/factcheck`);
  }

  ask(storyId: number, question: string, threadId: number | null): Promise<AskResult> {
    return this.request<AskResult>(`/api/v1/stories/${storyId}/ask`, {
      method: "POST",
      body: { question, thread_id: threadId },
    });
  }

  thread(id: number): Promise<ThreadDetail> {
    return this.request<ThreadDetail>(`/api/v1/ask/threads/${id}`);
  }

  search(q: string): Promise<SearchPage> {
    return this.request<SearchPage>(`/api/v1/search?q=${encodeURIComponent(q)}&limit=20`);
  }

  preferences(): Promise<Preferences> {
    return this.request<Preferences>("/api/v1/me/preferences");
  }

  savePreferences(prefs: Preferences): Promise<Preferences> {
    return this.request<Preferences>("/api/v1/me/preferences", { method: "PUT", body: prefs });
  }

  voice(storyId: number, format: "opus" | "mp3"): Promise<AudioStatus> {
    return this.request<AudioStatus>("/api/v1/voice", {
      method: "POST",
      body: { story_id: storyId, format },
    });
  }

  audioStatus(statusUrl: string): Promise<AudioStatus> {
    return this.request<AudioStatus>(statusUrl);
  }

  async chapters(url: string): Promise<Chapter[]> {
    const body = await this.request<{ chapters?: Chapter[] }>(url);
    return body.chapters ?? [];
  }

  async transcript(url: string): Promise<string> {
    const res = await this.send(url, {});
    if (!res.ok) throw new ApiError(res.status, await problemDetail(res));
    return res.text();
  }

  position(audioId: string): Promise<{ position_s: number }> {
    return this.request(`/api/v1/me/positions/${encodeURIComponent(audioId)}`);
  }

  savePosition(audioId: string, positionS: number): Promise<unknown> {
    return this.request(`/api/v1/me/positions/${encodeURIComponent(audioId)}`, {
      method: "PUT",
      body: { position_s: Math.max(0, positionS) },
    });
  }

  registerDevice(token: string, platform: string, language: string): Promise<unknown> {
    return this.request("/api/v1/me/devices", {
      method: "POST",
      body: { token, platform, language },
    });
  }

  unregisterDevice(token: string): Promise<unknown> {
    return this.request(`/api/v1/me/devices/${encodeURIComponent(token)}`, { method: "DELETE" });
  }
}

async function problemDetail(res: Response): Promise<string> {
  try {
    const body = (await res.json()) as { detail?: unknown; title?: unknown };
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) return JSON.stringify(body.detail);
    if (typeof body.title === "string") return body.title;
  } catch {
    // Not JSON: fall through to the status text.
  }
  return res.statusText || `HTTP ${res.status}`;
}
