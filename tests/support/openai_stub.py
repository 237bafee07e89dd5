"""A real HTTP server on 127.0.0.1 that speaks the OpenAI API shape, for the protocol tests.

Hosted models are paid services we cannot reach from tests, so the clients in
``providers/`` are tested against this stub: it records every request (path, Authorization
header, JSON body) and answers through ``respond``, which a test replaces. Replies queued
with ``then`` are served first, in order (a 429 before a 200, say).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One answer: a status, a JSON-able body (or raw bytes) and extra headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Responder = Callable[[str, dict[str, Any]], Reply]


def chat_answer(content: Any) -> dict[str, Any]:
    """A chat.completion body whose first choice says ``content``."""
    return {
        "id": "c1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
    }


def embeddings_answer(body: dict[str, Any]) -> dict[str, Any]:
    """Vectors that encode each input's length, answered in reverse order with their index."""
    data = [{"index": i, "embedding": [float(len(t)), 1.0, 0.0, 0.0]} for i, t in enumerate(body["input"])]
    return {"object": "list", "data": data[::-1]}


def default_respond(path: str, body: dict[str, Any]) -> Reply:
    """Embeddings for /embeddings, an echo of the last user message for /chat/completions."""
    if path.endswith("/embeddings"):
        return Reply(200, embeddings_answer(body))
    if path.endswith("/chat/completions"):
        return Reply(200, chat_answer(str(body["messages"][-1]["content"])))
    return Reply(404, {"error": {"message": f"no route {path}"}})


class OpenAIStub:
    """The server's state: what it received and how it answers next."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.respond: Responder = default_respond
        self.delay_s = 0.0
        self._queued: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self._thread: threading.Thread | None = None

    def then(self, *replies: Reply) -> None:
        """Serve these replies to the next requests, before ``respond`` takes over again."""
        with self._lock:
            self._queued.extend(replies)

    def bodies(self, suffix: str = "") -> list[dict[str, Any]]:
        """The recorded requests whose path ends with ``suffix``."""
        return [r for r in self.requests if str(r["path"]).endswith(suffix)]

    def start(self) -> None:
        # A short poll interval: shutdown() waits up to one interval.
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and free the port; later requests are refused."""
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
            self._thread = None
        self.server.server_close()

    def _answer(self, path: str, body: dict[str, Any]) -> Reply:
        with self._lock:
            queued = self._queued.popleft() if self._queued else None
        return queued if queued is not None else self.respond(path, body)


def _handler(stub: OpenAIStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
            if stub.delay_s:
                time.sleep(stub.delay_s)
            reply = stub._answer(self.path, body)
            payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


def serve() -> Iterator[OpenAIStub]:
    """Run an OpenAIStub for the duration of a fixture."""
    stub = OpenAIStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()
