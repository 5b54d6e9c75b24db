"""`make run`: migrate, create the demo, start every process of Procfile.dev with honcho,
connect the demo to the BMS sandbox and to localstripe, and print where to sign in. Ctrl-C
stops everything. The embedded Redis runs only when REDIS_URL is unset."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local services
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s; see the log above.")


def main() -> None:
    env = dict(os.environ)
    env.setdefault("PORTAL_ENV", "development")
    # DEBUG stays off unless asked for (DEBUG=1 make run): the pages are production's.
    debug = env.get("DEBUG", "").lower() in {"1", "true", "yes", "on"}
    debug_pages = "on (DEBUG=1)" if debug else "off, as in production (DEBUG=1 make run turns them on)"
    env.setdefault("BMS_ALLOWED_INSECURE_HOSTS", "127.0.0.1:8001")
    # Payments go to localstripe (a fake Stripe, run as its own process) and its fake Stripe.js.
    env.setdefault("STRIPE_API_BASE", "http://127.0.0.1:8420")
    env.setdefault("STRIPE_JS_URL", "http://127.0.0.1:8420/js.stripe.com/v3/")
    # The accounting package is the Xero sandbox; the BMS sandbox imports its payments every
    # minute, as BMS's own Xero integration does (portal -> Xero -> BMS).
    env.setdefault("XERO_API_BASE_URL", "http://127.0.0.1:8002/api.xro/2.0")
    env.setdefault("XERO_IDENTITY_URL", "http://127.0.0.1:8002")
    env.setdefault("XERO_AUTHORIZE_URL", "http://127.0.0.1:8002/identity/connect/authorize")
    env.setdefault("XERO_CONNECTIONS_URL", "http://127.0.0.1:8002/connections")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    processes = ["sandbox", "xero", "stripe", "web", "worker", "beat"]
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = "redis://127.0.0.1:6390/0"
        processes.insert(0, "redis")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "demo_setup"], env=env, cwd=ROOT, check=True)
    honcho = subprocess.Popen(
        [str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile.dev"), "-d", str(ROOT), *processes], env=env, cwd=ROOT
    )
    try:
        _wait_for("http://127.0.0.1:8001/_sandbox/health")
        _wait_for("http://127.0.0.1:8000/accounts/login/")
        subprocess.run([*manage, "kaseya_bms_demo"], env=env, cwd=ROOT, check=False)
        _wait_for("http://127.0.0.1:8420/js.stripe.com/v3/")
        subprocess.run([*manage, "stripe_demo"], env=env, cwd=ROOT, check=False)
        _wait_for("http://127.0.0.1:8002/")
        subprocess.run([*manage, "xero_demo"], env=env, cwd=ROOT, check=False)
        print(
            "\n  Billing portal:  http://127.0.0.1:8000/\n"
            "  Master Admin:    admin@demo.local / demo-admin\n"
            "  Billing staff:   billing@demo.local / demo-billing\n"
            "  Client contact:  client@demo.local / demo-client\n"
            "  BMS sandbox:     http://127.0.0.1:8001  (Company Name 'Demo MSP', api@demo.local / demo-bms)\n"
            "  localstripe:     http://127.0.0.1:8420  (a fake Stripe; test card 4242 4242 4242 4242)\n"
            "  Xero sandbox:    http://127.0.0.1:8002  (its payments reach the BMS sandbox every minute)\n"
            f"  Debug pages:     {debug_pages}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )
        sys.exit(honcho.wait())
    except (KeyboardInterrupt, SystemExit):
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(30)
            except subprocess.TimeoutExpired:
                honcho.kill()
        raise


if __name__ == "__main__":
    main()
