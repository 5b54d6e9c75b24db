"""A tiny scripted HTTP server for the client's wire format and error mapping (no sandbox needed),
with the paths and records the stub tests share."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from providers.kaseya_bms.types import TicketDraft

QUEUES = "/v2/system/queues/lookup"
ACCOUNTS = "/v2/crm/accounts/summary"
INVOICES = "/v2/finance/invoices/summary"
TICKETS = "/v2/servicedesk/tickets"
AUTH = "/v2/security/authenticate"
REFRESH = "/v2/security/refreshtoken"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False  # close the socket without answering


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def ok(result: Any, total: int | None = None) -> Reply:
    payload: dict[str, Any] = {"success": True, "error": None, "result": result}
    if total is not None:
        payload["totalRecords"] = total
    return json_reply(payload)


def failed(message: str, code: int = 0, status: int = 200) -> Reply:
    return json_reply({"success": False, "error": {"code": code, "message": message}, "result": None}, status)


def token_reply(access: str = "tok-1", refresh: str = "ref-1", expires: str = "2999-01-01T00:00:00Z") -> Reply:
    return ok(
        {
            "accessToken": access,
            "refreshToken": refresh,
            "accessTokenExpireOn": expires,
            "refreshTokenExpireOn": "2999-01-01T00:00:00Z",
        }
    )


def queue(i: int) -> dict:
    return {"id": i, "name": f"Q{i}", "isActive": True}


def draft() -> TicketDraft:
    return TicketDraft(
        title="t",
        details="d",
        account_id=1,
        location_id=1,
        status_id=1,
        priority_id=1,
        type_id=1,
        source_id=0,
        open_date=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Responder = Callable[[Seen], Reply]


class StubServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply] | Responder] = {}
        self.seen: list[Seen] = []
        self.on("POST", "/v2/security/authenticate", token_reply())
        self.on("POST", "/v2/security/refreshtoken", token_reply("tok-2", "ref-2"))
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), self.rfile.read(length)
                )
                stub.seen.append(seen)
                reply = stub._reply(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def on(self, method: str, path: str, *replies: Reply | Responder) -> None:
        """Answer with ``replies`` in order (the last one repeats), or via a responder function."""
        if len(replies) == 1 and callable(replies[0]):
            self.routes[(method, path)] = replies[0]
        else:
            self.routes[(method, path)] = list(replies)  # type: ignore[arg-type]

    def _reply(self, seen: Seen) -> Reply:
        route = self.routes.get((seen.method, seen.path))
        if route is None:
            return json_reply({"success": False, "error": {"message": "No such route"}}, 404)
        if callable(route):
            return route(seen)
        return route.pop(0) if len(route) > 1 else route[0]

    def calls(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
