"""`python -m xero_sandbox --port 8002 [--host 127.0.0.1] [options]`"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from .app import Options
from .server import LOOPBACK, serve

INT_OPTIONS = (
    "seed",
    "accounts",
    "contacts_per_account",
    "contracts_per_account",
    "invoices_per_account",
    "lines_per_invoice",
    "extra_tenants",
    "minute_limit",
    "day_limit",
    "concurrent_limit",
    "app_minute_limit",
)


def parse_args(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(
        prog="python -m xero_sandbox", description="Xero sandbox server (identity + Accounting API)"
    )
    p.add_argument("--host", default="127.0.0.1", choices=LOOPBACK, help="loopback only")
    p.add_argument("--port", type=int, default=8002, help="0 picks a free port (printed on stdout)")
    p.add_argument("--config", type=Path, help="JSON file with any of the options below (CLI wins)")
    for name in INT_OPTIONS:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    p.add_argument("--tenant", default=None, help="name of the main organisation (the BMS tenant's name)")
    p.add_argument("--anchor", default=None, help="ISO date-time the BMS data ends at (default: today 00:00Z)")
    p.add_argument("--verbose", action="store_true", help="log every request (path only) to stderr")
    ns = p.parse_args(argv)
    cfg: dict[str, Any] = {}
    if ns.config:
        cfg = {k.replace("-", "_"): v for k, v in json.loads(ns.config.read_text()).items()}
    for name in (*INT_OPTIONS, "tenant", "anchor"):
        v = getattr(ns, name)
        if v is not None:
            cfg[name] = v
    unknown = set(cfg) - set(Options.__dataclass_fields__)
    if unknown:
        p.error(f"unknown config keys: {sorted(unknown)}")
    return Options(**cfg), ns


def main(argv: list[str] | None = None) -> None:
    opts, ns = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(opts, ns.host, ns.port, ns.verbose)


if __name__ == "__main__":
    main()
