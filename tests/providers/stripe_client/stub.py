"""A scripted HTTP server that answers like Stripe, for what localstripe cannot show: the
headers the gateway sends and the error answers Stripe gives."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Reply:
    status: int = 200
    payload: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def stripe_error(status: int, type_: str, message: str, **fields: Any) -> Reply:
    """An error in Stripe's JSON shape: ``{"error": {"type", "message", "code", ...}}``."""
    return Reply(status, {"error": {"type": type_, "message": message, **fields}})


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, list[str]]


class StripeStub:
    """Answers queued replies per ``(method, path)``; the last one repeats. Unscripted: 404."""

    def __init__(self) -> None:
        self.replies: dict[tuple[str, str], deque[Reply]] = {}
        self.seen: list[Seen] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                parts = urlsplit(self.path)
                form = parse_qs(body or parts.query, keep_blank_values=True)
                stub.seen.append(Seen(self.command, parts.path, {k.lower(): v for k, v in self.headers.items()}, form))
                queue = stub.replies.get((self.command, parts.path))
                reply = (queue.popleft() if len(queue) > 1 else queue[0]) if queue else Reply(404, {"error": {}})
                data = json.dumps(reply.payload).encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Request-Id", "req_stub")
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, method: str, path: str, *replies: Reply) -> None:
        self.replies[(method, path)] = deque(replies)

    def __enter__(self) -> StripeStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


def payment_intent(id_: str = "pi_stub1", status: str = "succeeded", **fields: Any) -> dict:
    data = {
        "id": id_,
        "object": "payment_intent",
        "amount": 12345,
        "amount_received": 12345 if status == "succeeded" else 0,
        "currency": "usd",
        "status": status,
        "customer": "cus_stub1",
        "payment_method": "pm_stub1",
        "latest_charge": "ch_stub1",
        "capture_method": "automatic",
        "client_secret": "pi_stub1_secret_abc",
        "metadata": {},
        "created": 1700000000,
        "livemode": False,
        "next_action": None,
        "last_payment_error": None,
    }
    data.update(fields)
    return data
