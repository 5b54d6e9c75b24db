"""`make run`: migrate, create the demo, then start every process of Procfile.dev with
honcho (Ctrl-C stops them all). The embedded Redis runs only when REDIS_URL is unset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def main() -> None:
    env = dict(os.environ)
    env.setdefault("PORTAL_ENV", "development")
    env.setdefault("BMS_ALLOWED_INSECURE_HOSTS", "127.0.0.1:8001")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    processes = ["sandbox", "web", "worker", "beat"]
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = "redis://127.0.0.1:6390/0"
        processes.insert(0, "redis")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, cwd=ROOT, check=True)
    subprocess.run([*manage, "demo_setup"], env=env, cwd=ROOT, check=True)
    print(
        "\n  Billing portal:  http://127.0.0.1:8000/\n"
        "  Master Admin:    admin@demo.local / demo-admin\n"
        "  Billing staff:   billing@demo.local / demo-billing\n"
        "  Client contact:  client@demo.local / demo-client\n"
        "  BMS sandbox:     http://127.0.0.1:8001  (Company Name 'Demo MSP', api@demo.local / demo-bms)\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    honcho = [str(BIN / "honcho"), "start", "-f", str(ROOT / "Procfile.dev"), "-d", str(ROOT), *processes]
    try:
        sys.exit(subprocess.call(honcho, env=env, cwd=ROOT))
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
