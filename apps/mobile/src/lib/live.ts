// Live updates while the app is open: the server's SSE stream (GET /api/v1/stream) read over
// XMLHttpRequest, which React Native and browsers both stream, and which can send the bearer
// token (EventSource cannot). Reconnects with Last-Event-ID after a drop, each time with the
// client's current access token (refreshed when the stream answers 401).
export interface LiveEvent {
  id: string | null;
  type: string;
  data: string;
}

export function parseSse(buffer: string): { events: LiveEvent[]; rest: string } {
  const events: LiveEvent[] = [];
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let id: string | null = null;
    let type = "message";
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "id") id = value;
      else if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (data.length > 0 || type !== "message") events.push({ id, type, data: data.join("\n") });
  }
  return { events, rest };
}

/** Where the stream gets its bearer token: read afresh at every (re)connect. */
export interface LiveAuth {
  accessToken(): Promise<string | null>;
  /** Exchanges the refresh token; false when the server refused it (signed out). */
  refresh(): Promise<boolean>;
}

export function openLive(url: string, auth: LiveAuth, onEvent: (event: LiveEvent) => void, retryMs = 5000): () => void {
  let closed = false;
  let lastId: string | null = null;
  let xhr: XMLHttpRequest | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const later = () => {
    if (!closed) retry = setTimeout(() => void connect(), retryMs);
  };

  // A 401 means the access token expired while the stream was down (or open): use the one the
  // client already rotated to, or refresh; a refused refresh has signed out, so stop.
  const reauthorize = async (used: string | null) => {
    try {
      const current = await auth.accessToken();
      if (current !== null && current !== used) return void connect();
      if (await auth.refresh()) return void connect();
    } catch {
      // Server unreachable or busy: try again later with whatever token there is then.
      return later();
    }
  };

  const connect = async () => {
    if (closed) return;
    let token: string | null;
    try {
      token = await auth.accessToken();
    } catch {
      return later();
    }
    if (closed) return;
    const req = new XMLHttpRequest();
    xhr = req;
    let seen = 0;
    let buffer = "";
    req.open("GET", url);
    req.setRequestHeader("Accept", "text/event-stream");
    if (token) req.setRequestHeader("Authorization", `Bearer ${token}`);
    if (lastId) req.setRequestHeader("Last-Event-ID", lastId);
    req.onprogress = () => {
      buffer += req.responseText.slice(seen);
      seen = req.responseText.length;
      const parsed = parseSse(buffer);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        if (event.id) lastId = event.id;
        onEvent(event);
      }
    };
    req.onerror = later;
    req.onload = () => {
      if (closed) return;
      if (req.status === 401) void reauthorize(token);
      else later();
    };
    req.send();
  };
  void connect();
  return () => {
    closed = true;
    if (retry) clearTimeout(retry);
    xhr?.abort();
  };
}
