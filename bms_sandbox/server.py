"""HTTP/1.1 transport: ThreadingHTTPServer with keep-alive and Nagle disabled."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import api
from .app import DROP, Request, Response, Sandbox, error_response
from .control import handle_control
from .data import Options
from .xero_import import XeroImporter


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    # Without this, keep-alive requests stall ~40 ms on Nagle + delayed ACK (reliability.md §4).
    disable_nagle_algorithm = True
    server_version = "BMS-Sandbox/1.0"
    sys_version = ""
    server: SandboxHTTPServer

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""  # always drain: keeps the stream in sync
        path, _, qs = self.path.partition("?")
        req = Request(self.command, path, qs, {k.lower(): v for k, v in self.headers.items()}, body)
        app = self.server.app
        try:
            if path.lower().startswith("/_sandbox/"):
                resp: Response | type[DROP] = handle_control(app, req)
            else:
                resp = app.handle(req)
        except Exception as e:  # an internal bug must still produce a well-formed answer
            traceback.print_exc(file=sys.stderr)
            resp = error_response(500, 500, "Internal Server Error", f"{type(e).__name__}: {e}")
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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:
            super().log_message(format, *args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr: tuple[str, int], app: Sandbox, verbose: bool = False) -> None:
        self.app = app
        self.verbose = verbose
        super().__init__(addr, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (its timeout) and closed the connection is not a server error.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def make_server(opts: Options, host: str = "127.0.0.1", port: int = 8001, verbose: bool = False) -> SandboxHTTPServer:
    app = Sandbox(opts)
    api.register(app)
    app.xero_importer = XeroImporter(app, opts.xero_url, opts.xero_import_interval)
    return SandboxHTTPServer((host, port), app, verbose)


def serve(opts: Options, host: str, port: int, verbose: bool = False) -> None:
    httpd = make_server(opts, host, port, verbose)
    # Requests are served meanwhile; one that needs an index first builds it itself.
    threading.Thread(target=httpd.app.tenant.build_indexes, name="build-indexes", daemon=True).start()
    httpd.app.xero_importer.start()  # scheduled imports from the Xero sandbox, if an interval is set
    h, p = httpd.server_address[:2]
    # One machine-readable line on stdout: SandboxServer reads the bound port from it.
    print(json.dumps({"event": "listening", "url": f"http://{h}:{p}"}), flush=True)
    try:
        httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
