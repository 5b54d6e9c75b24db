"""Start the Xero sandbox (subprocess or in-process thread) and drive its control API."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from html import unescape
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from .app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, Clock, Options

API_BASE = "/api.xro/2.0"


class XeroControl:
    """Client for the /_sandbox/ control API."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        r = self.session.request(method, f"{self.url}/_sandbox/{path}", json=body, params=params, timeout=self.timeout)
        if r.status_code >= 400:
            raise RuntimeError(f"xero sandbox control {method} {path} -> {r.status_code}: {r.text}")
        return r.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def reset(self) -> None:
        self._call("POST", "reset")

    def add_client(
        self, client_id: str, client_secret: str, redirect_uris: list[str] | None = None, name: str = "Sandbox app"
    ) -> None:
        self._call(
            "POST",
            "clients",
            {"client_id": client_id, "client_secret": client_secret, "redirect_uris": redirect_uris, "name": name},
        )

    def grant(self, **kw: Any) -> dict[str, Any]:
        """Tokens without the consent page: ``client_id``, ``scopes``, ``tenant_ids`` optional."""
        return self._call("POST", "grants", kw)

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault configuration (keys not given go back to their defaults)."""
        return self._call("PUT", "faults", faults)

    def clear_faults(self) -> None:
        self._call("PUT", "faults", {})

    def set_limits(self, **limits: int) -> dict[str, int]:
        return self._call("PUT", "limits", limits)

    def set_clock(self, offset_seconds: float = 0, frozen_at: float | None = None) -> dict[str, Any]:
        return self._call("PUT", "clock", {"offset_seconds": offset_seconds, "frozen_at": frozen_at})

    def advance_clock(self, seconds: float) -> dict[str, Any]:
        return self._call("POST", "clock/advance", {"seconds": seconds})

    def expire_tokens(self) -> int:
        return int(self._call("POST", "tokens/expire")["expired"])

    def requests(self) -> dict[str, Any]:
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def payments(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "payments", params={"tenant_id": tenant_id} if tenant_id else None)

    def mutate(self, op: str, **kw: Any) -> dict[str, Any]:
        return self._call("POST", "mutations", {"op": op, **kw})


def authorize(
    url: str,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    redirect_uri: str = "http://127.0.0.1:8000/xero/callback",
    scope: str = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings",
    tenants: list[str] | None = None,
    state: str = "state-1",
    session: requests.Session | None = None,
) -> dict[str, Any]:
    """The whole authorization-code flow as a browser would do it: consent page, Allow, code, token."""
    s = session or requests.Session()
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    page = s.get(f"{url}/identity/connect/authorize", params=params, timeout=10)
    page.raise_for_status()
    fields = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page.text))
    form = {k: unescape(v) for k, v in fields.items()}
    boxes = re.findall(r"name='tenant' value='([^']+)'( checked)?", page.text)
    chosen = tenants if tenants is not None else [t for t, checked in boxes if checked]
    data = [*form.items(), *(("tenant", t) for t in chosen), ("action", "allow")]
    back = s.post(f"{url}/identity/connect/authorize", data=data, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    q = parse_qs(urlsplit(back.headers["Location"]).query)
    assert q.get("state") == [state]
    tok = s.post(
        f"{url}/connect/token",
        data={"grant_type": "authorization_code", "code": q["code"][0], "redirect_uri": redirect_uri},
        auth=(client_id, client_secret),
        timeout=10,
    )
    tok.raise_for_status()
    return tok.json()


class XeroSandboxServer:
    """The Xero sandbox on a free 127.0.0.1 port: a subprocess (default) or a thread of this
    process (``in_thread=True``, which also accepts a ``clock``). Options are Options' fields."""

    def __init__(
        self, startup_timeout: float = 30.0, in_thread: bool = False, clock: Clock | None = None, **options: Any
    ) -> None:
        self.options = options
        self.startup_timeout = startup_timeout
        self.in_thread = in_thread
        self.clock = clock
        self.proc: subprocess.Popen[str] | None = None
        self.httpd: Any = None
        self.url = ""
        self.control: XeroControl
        self.start()

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "xero_sandbox", "--host", "127.0.0.1", "--port", "0"]
        for key, value in self.options.items():
            if value is not None:
                argv += ["--" + key.replace("_", "-"), str(value)]
        return argv

    def start(self) -> None:
        if self.in_thread:
            from .server import make_server, start_indexes

            self.httpd = make_server(Options(**self.options), "127.0.0.1", 0, clock=self.clock)
            start_indexes(self.httpd)
            threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
            h, p = self.httpd.server_address[:2]
            self.url = f"http://{h}:{p}"
            self.control = XeroControl(self.url)
            return
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)  # make the packages importable anywhere
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(self._argv(), stdout=subprocess.PIPE, text=True, env=env)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError("Xero sandbox did not start (no 'listening' line)")
        self.url = json.loads(line[0])["url"]
        self.control = XeroControl(self.url)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                self.control.health()
                break
            except (requests.ConnectionError, RuntimeError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.02)

    @property
    def app(self) -> Any:
        """The in-process Sandbox (in_thread only)."""
        return self.httpd.app if self.httpd is not None else None

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> XeroSandboxServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
