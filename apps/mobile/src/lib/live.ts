// Live updates while the app is open: the server's SSE stream (GET /api/v1/stream) read over
// XMLHttpRequest, which React Native and browsers both stream, and which can send the bearer
// token (EventSource cannot). Reconnects with Last-Event-ID after a drop.
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

export function openLive(
  url: string,
  token: string | null,
  onEvent: (event: LiveEvent) => void,
): () => void {
  let closed = false;
  let lastId: string | null = null;
  let xhr: XMLHttpRequest | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;

  const connect = () => {
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
    const again = () => {
      if (!closed) retry = setTimeout(connect, 5000);
    };
    req.onerror = again;
    req.onload = again;
    req.send();
  };
  connect();
  return () => {
    closed = true;
    if (retry) clearTimeout(retry);
    xhr?.abort();
  };
}
