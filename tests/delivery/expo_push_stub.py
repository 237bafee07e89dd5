"""A local stand-in for Expo's push HTTP API on 127.0.0.1 (Expo itself is not reachable here).

It speaks the protocol the provider code depends on: ``POST /--/api/v2/push/send`` takes a
JSON list of at most 100 messages and answers one ticket per message (``{"status": "ok",
"id": ...}``, or an error ticket with ``details.error``); ``POST /--/api/v2/push/getReceipts``
takes ``{"ids": [...]}`` and answers a receipt per known id. Tokens listed in ``dead`` get
a ``DeviceNotRegistered`` ticket; tokens in ``dead_later`` an ok ticket whose receipt says
``DeviceNotRegistered``. ``fail_next`` answers that many requests with HTTP 503 first.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ExpoStub:
    port: int = 0
    dead: set[str] = field(default_factory=set)
    dead_later: set[str] = field(default_factory=set)
    fail_next: int = 0
    sends: list[list[dict[str, Any]]] = field(default_factory=list)
    receipt_requests: list[list[str]] = field(default_factory=list)
    auth: list[str | None] = field(default_factory=list)
    refused: int = 0
    tickets: dict[str, str] = field(default_factory=dict)  # ticket id -> token

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, body: Any, authorization: str | None) -> tuple[int, Any]:
        self.auth.append(authorization)
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            return 503, {"errors": [{"code": "INTERNAL_SERVER_ERROR", "message": "try again"}]}
        if path == "/--/api/v2/push/send":
            if not isinstance(body, list) or len(body) > 100:
                return 400, {"errors": [{"code": "PUSH_TOO_MANY_NOTIFICATIONS", "message": "at most 100"}]}
            self.sends.append(body)
            data = []
            for message in body:
                token = message["to"]
                if token in self.dead:
                    data.append(
                        {
                            "status": "error",
                            "message": f'"{token}" is not a registered push notification recipient',
                            "details": {"error": "DeviceNotRegistered"},
                        }
                    )
                    continue
                ticket = str(uuid.uuid4())
                self.tickets[ticket] = token
                data.append({"status": "ok", "id": ticket})
            return 200, {"data": data}
        if path == "/--/api/v2/push/getReceipts":
            ids = list(body["ids"])
            self.receipt_requests.append(ids)
            receipts: dict[str, Any] = {}
            for rid in ids:
                token = self.tickets.get(rid)
                if token is None:
                    continue
                if token in self.dead_later:
                    receipts[rid] = {
                        "status": "error",
                        "message": "gone",
                        "details": {"error": "DeviceNotRegistered"},
                    }
                else:
                    receipts[rid] = {"status": "ok"}
            return 200, {"data": receipts}
        return 404, {"errors": [{"code": "NOT_FOUND", "message": path}]}


@contextmanager
def expo_stub() -> Iterator[ExpoStub]:
    stub = ExpoStub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"null")
            status, answer = stub.answer(self.path, body, self.headers.get("Authorization"))
            raw = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
