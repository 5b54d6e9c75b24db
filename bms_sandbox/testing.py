"""Start the sandbox as a subprocess and drive its control API (for tests and dev scripts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

DEFAULT_TENANT = "Demo MSP"
DEFAULT_USERNAME = "api@demo.local"
DEFAULT_PASSWORD = "demo-bms"


class SandboxControl:
    """Client for the /_sandbox/ control API."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        r = self.session.request(method, f"{self.url}/_sandbox/{path}", json=body, timeout=self.timeout)
        if r.status_code >= 400:
            raise RuntimeError(f"sandbox control {method} {path} -> {r.status_code}: {r.text}")
        return r.json()

    def health(self) -> dict[str, Any]:
        return self._call("GET", "health")

    def reset(self) -> None:
        self._call("POST", "reset")

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        """Replace the fault configuration (keys not given go back to their defaults)."""
        return self._call("PUT", "faults", faults)

    def clear_faults(self) -> None:
        self._call("PUT", "faults", {})

    def faults_fired(self) -> dict[str, int]:
        """Random faults that fired since the last reset or ``clear_requests``, by
        ``"<fault> <method> <path template>"`` (e.g. ``"drop_after POST /v2/servicedesk/tickets"``)."""
        return self._call("GET", "requests")["faults_fired"]

    def clear_anomalies(self) -> None:
        self._call("PUT", "anomalies", {})

    def reset_caches(self) -> dict[str, Any]:
        """Drop what serving warmed (hot records, query results) and build the indexes: the
        sandbox as cold as after its start, data unchanged. Returns the caches' sizes."""
        return self._call("POST", "caches/reset")

    def cache_sizes(self) -> dict[str, Any]:
        return self._call("GET", "caches")

    def set_anomalies(self, **modes: Any) -> dict[str, Any]:
        """Replace the anomaly set (data shapes in ``contact_anomalies.py``, answer shapes in
        ``anomalies.py``); modes not given are off."""
        return self._call("PUT", "anomalies", modes)

    def request_pages(self) -> dict[str, list[int]]:
        """The page numbers asked of each listing endpoint since the last clear, in order."""
        return self.request_counts()["pages"]

    def add_user(
        self,
        username: str,
        password: str,
        has_api_access: bool = True,
        rights: dict[str, dict[str, bool]] | None = None,
        full_name: str = "API User",
    ) -> int:
        body = {
            "username": username,
            "password": password,
            "has_api_access": has_api_access,
            "rights": rights or {},
            "full_name": full_name,
        }
        return int(self._call("POST", "users", body)["userId"])

    def mutate(self, op: str, **kw: Any) -> dict[str, Any]:
        return self._call("POST", "mutations", {"op": op, **kw})

    def request_counts(self) -> dict[str, Any]:
        return self._call("GET", "requests")

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def records(self, entity: str) -> list[dict[str, Any]]:
        return self._call("GET", f"records/{entity}")

    def set_clock_offset(self, seconds: int) -> None:
        self._call("PUT", "clock", {"offset_seconds": int(seconds)})

    def xero_import(self, xero_url: str | None = None) -> dict[str, Any]:
        """Import the payments of the Xero sandbox now (BMS's "Importing Xero Payments")."""
        return self._call("POST", "xero/import", {"xero_url": xero_url} if xero_url else {})

    def set_locale(
        self, currency_code: str | None = None, culture_code: str | None = None, date_format: str | None = None
    ) -> dict[str, str]:
        """What userinfo says of the tenant's currency, culture and date format (accounts are
        in that currency), until the next reset."""
        body = {"currency_code": currency_code, "culture_code": culture_code, "date_format": date_format}
        return self._call("PUT", "locale", body)

    def configure_xero(self, url: str | None = None, interval_seconds: float | None = None) -> dict[str, Any]:
        return self._call("PUT", "xero", {"url": url, "interval_seconds": interval_seconds})

    def xero_state(self) -> dict[str, Any]:
        return self._call("GET", "xero")


class SandboxServer:
    """`python -m bms_sandbox` in a subprocess on a free 127.0.0.1 port.

    Options are the CLI flags with underscores (``accounts=1000``, ``users=[("u", "p")]``).
    """

    def __init__(self, startup_timeout: float = 30.0, **options: Any) -> None:
        self.options = options
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.control: SandboxControl
        self.start()

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "bms_sandbox", "--host", "127.0.0.1", "--port", "0"]
        for key, value in self.options.items():
            if key in ("users", "user"):
                for u in value:
                    argv += ["--user", u if isinstance(u, str) else f"{u[0]}:{u[1]}"]
            elif value is not None:
                argv += ["--" + key.replace("_", "-"), str(value)]
        return argv

    def start(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)  # make the package importable anywhere
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(self._argv(), stdout=subprocess.PIPE, text=True, env=env)
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(self.proc.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError("BMS sandbox did not start (no 'listening' line)")
        self.url = json.loads(line[0])["url"]
        self.control = SandboxControl(self.url)
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

    def stop(self) -> None:
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

    @property
    def tenant(self) -> str:
        return str(self.options.get("tenant", DEFAULT_TENANT))

    @property
    def username(self) -> str:
        users = self.options.get("users")
        return _user(users[0])[0] if users else DEFAULT_USERNAME

    @property
    def password(self) -> str:
        users = self.options.get("users")
        return _user(users[0])[1] if users else DEFAULT_PASSWORD

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _user(u: Any) -> tuple[str, str]:
    if isinstance(u, str):
        name, _, pw = u.partition(":")
        return name, pw
    return u[0], u[1]
