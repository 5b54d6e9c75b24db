"""Run localstripe (a fake, stateful Stripe API) as a separate process, for ``make run`` and tests.

localstripe is GPL-3.0: it is only ever run as its own process (``python -m localstripe``),
never imported by the portal's code.

What it does, as measured with localstripe 1.15.10 (see ``tests/providers/stripe_client``):
- It has no host option: it listens on ``::`` (every interface, IPv4 and IPv6) on ``--port``.
  Use it only where that is acceptable (a developer machine, CI); the URL handed to the portal
  is always the loopback one.
- Its state lives in memory and is pickled to ``/tmp/localstripe.pickle`` (an absolute path,
  whatever the working directory) on every write, with or without ``--from-scratch``; it is read
  back at start unless ``--from-scratch``. This launcher always passes ``--from-scratch``, so two
  instances (a test run and ``make run``) never load each other's state even though they write
  the same file. Stopping the process loses its data.
- Webhook endpoints registered through ``/_config/webhooks/<id>`` are kept apart from the data:
  ``DELETE /_config/data`` (:meth:`LocalStripe.flush`) clears customers, intents, events... but
  not the webhooks. Registering the same id again replaces the endpoint.
- Any secret key starting with ``sk_`` is accepted.

Usage: ``python scripts/localstripe_server.py --port 8420 [--webhook-url URL --webhook-secret whsec_...]``
runs until interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import IO

DEFAULT_WEBHOOK_ID = "portal"
START_TIMEOUT = 20.0
_PORT_ATTEMPTS = 3


class LocalStripeError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalStripe:
    """One running localstripe process."""

    def __init__(self, process: subprocess.Popen, port: int) -> None:
        self.process = process
        self.port = port

    @property
    def url(self) -> str:
        """The API base to give the Stripe gateway (and the fake Stripe.js: ``url + "/js.stripe.com/v3/"``)."""
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"<LocalStripe {self.url} pid={self.process.pid}>"

    def _config(self, method: str, path: str, data: dict | None = None) -> int:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(  # noqa: S310 (a loopback http URL we built)
            self.url + path, data=body, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310
                return answer.status
        except urllib.error.HTTPError as exc:
            raise LocalStripeError(f"localstripe answered {exc.code} to {method} {path}") from None

    def register_webhook(
        self, url: str, secret: str, *, endpoint_id: str = DEFAULT_WEBHOOK_ID, events: list[str] | None = None
    ) -> None:
        """Deliver events to ``url``, signed with ``secret`` (each event once, about a second
        after it happens, never retried). Same ``endpoint_id`` again: replaced."""
        data: dict = {"url": url, "secret": secret}
        if events is not None:
            data["events"] = list(events)
        self._config("POST", f"/_config/webhooks/{endpoint_id}", data)

    def flush(self) -> None:
        """Forget every object and event (webhook endpoints stay registered)."""
        self._config("DELETE", "/_config/data")

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)


# Looked up once, before any fork: the child only calls it.
_prctl = None
if sys.platform.startswith("linux"):
    import ctypes

    _prctl = ctypes.CDLL(None, use_errno=True).prctl
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the launching process dies, even by SIGKILL,
    so no localstripe outlives its test run or ``make run`` (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _answers(port: int) -> bool:
    """The fake Stripe.js route needs no key and changes no state: a cheap readiness probe."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/js.stripe.com/v3/", timeout=1) as answer:  # noqa: S310
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def start_localstripe(
    port: int | None = None, *, log: IO | int | None = None, timeout: float = START_TIMEOUT
) -> LocalStripe:
    """Start localstripe on ``port`` (a free one if ``None``) and return once it answers.

    Start it from a thread that lives as long as it should (the main thread): on Linux it gets
    SIGTERM when the starting thread's process ends, so it never outlives a killed test run.

    ``log``: where its access log goes (a file object, ``subprocess.DEVNULL``, or ``None`` to
    inherit). Its working directory does not matter: the only file it writes has an absolute path."""
    attempts = 1 if port is not None else _PORT_ATTEMPTS
    last_error = "did not start"
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "localstripe", "--port", str(chosen), "--from-scratch"],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        server = LocalStripe(process, chosen)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                last_error = f"exited with status {process.returncode} (port {chosen} taken?)"
                break
            if _answers(chosen):
                return server
            time.sleep(0.1)
        else:
            last_error = f"did not answer on port {chosen} within {timeout:.0f} s"
        server.stop()
    raise LocalStripeError(f"localstripe {last_error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run localstripe on loopback for the portal.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOCALSTRIPE_PORT", "8420")))
    parser.add_argument("--webhook-url", help="where localstripe should POST events")
    parser.add_argument("--webhook-secret", help="the signing secret for those deliveries (whsec_...)")
    args = parser.parse_args(argv)
    if bool(args.webhook_url) != bool(args.webhook_secret):
        parser.error("--webhook-url and --webhook-secret go together")

    server = start_localstripe(args.port, log=sys.stderr)  # its banner and access log; stdout stays ours
    if args.webhook_url:
        server.register_webhook(args.webhook_url, args.webhook_secret)
    print(f"localstripe on {server.url} (pid {server.process.pid})", flush=True)

    def _stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _stop)
    try:
        while server.is_running():
            time.sleep(0.5)
        return server.process.returncode or 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
