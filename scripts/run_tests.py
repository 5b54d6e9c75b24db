"""`make test`: run pytest, with an embedded Redis when REDIS_URL is unset (SQLite is
the default database when DATABASE_URL is unset). `--bench` runs the benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.embedded_redis import redis_server_command  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"The embedded Redis did not start on port {port}.")


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PORTAL_TEST_RUN", str(os.getpid()))
    redis_process = None
    if not env.get("REDIS_URL"):
        port = _free_port()
        data_dir = Path(tempfile.mkdtemp(prefix="portal-test-redis-"))
        redis_process = subprocess.Popen(redis_server_command(port, data_dir))
        _wait_for_port(port)
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"Using an embedded Redis on port {port}.", flush=True)
    if argv[:1] == ["--bench"]:
        command = [sys.executable, "-m", "benchmarks", *argv[1:]]
    else:
        command = [sys.executable, "-m", "pytest", *argv]
    try:
        return subprocess.call(command, env=env, cwd=ROOT)
    finally:
        if redis_process:
            redis_process.terminate()
            redis_process.wait(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
