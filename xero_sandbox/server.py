"""HTTP/1.1 transport: ThreadingHTTPServer with keep-alive and Nagle disabled, loopback only."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import api, identity
from .app import DROP, Clock, Options, Request, Response, Sandbox, problem
from .control import handle_control, home_page

LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # keep-alive requests would stall on Nagle + delayed ACK
    server_version = "Xero-Sandbox/1.0"
    sys_version = ""
    server: SandboxHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""  # always drain: keeps the stream in sync
        path, _, qs = self.path.partition("?")
        req = Request(self.command, path, qs, {k.lower(): v for k, v in self.headers.items()}, body)
        app = self.server.app
        try:
            low = path.lower()
            if low.startswith("/_sandbox/"):
                resp: Response | type[DROP] = handle_control(app, req)
            elif low in ("/", "/index.html") and self.command in ("GET", "HEAD"):
                resp = home_page(app)
            else:
                resp = app.handle(req)
        except Exception as e:  # an internal bug must still produce a well-formed answer
            traceback.print_exc(file=sys.stderr)
            resp = problem(500, "Internal Server Error", f"{type(e).__name__}: {e}")
        if resp is DROP:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        assert isinstance(resp, Response)
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line never carries secrets here (tokens travel in headers and bodies),
        # but query strings may carry an authorization code or state: log the path only.
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} {self.command} {self.path.partition('?')[0]} {args[1:2]}\n")


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], app: Sandbox, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        super().__init__(addr, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):  # the client gave up: not a server error
            return
        super().handle_error(request, client_address)


def make_app(opts: Options, clock: Clock | None = None) -> Sandbox:
    app = Sandbox(opts, clock)
    identity.register(app)
    api.register(app)
    return app


def make_server(
    opts: Options, host: str = "127.0.0.1", port: int = 8002, verbose: bool = False, clock: Clock | None = None
) -> SandboxHTTPServer:
    if host not in LOOPBACK:
        raise ValueError(f"the Xero sandbox binds loopback only (127.0.0.1, localhost, ::1), not {host!r}")
    return SandboxHTTPServer((host, port), make_app(opts, clock), verbose)


def start_indexes(httpd: SandboxHTTPServer) -> None:
    """Requests are served meanwhile; one that needs an index builds it itself (under a lock)."""
    for org in httpd.app.orgs:
        threading.Thread(target=org.build_indexes, name="xero-indexes", daemon=True).start()


def serve(opts: Options, host: str, port: int, verbose: bool = False) -> None:
    httpd = make_server(opts, host, port, verbose)
    start_indexes(httpd)
    h, p = httpd.server_address[:2]
    # One machine-readable line on stdout: XeroSandboxServer reads the bound port from it.
    print(json.dumps({"event": "listening", "url": f"http://{h}:{p}"}), flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
