"""`python -m bms_sandbox --host 127.0.0.1 --port 8001 [options]`"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path
from typing import Any

from .data import Options
from .server import serve

INT_OPTIONS = (
    "seed",
    "accounts",
    "contacts_per_account",
    "contracts_per_account",
    "tickets_per_account",
    "invoices_per_account",
    "lines_per_invoice",
    "hourly_limit",
    "max_page_size",
    "tenant_id",
)


def _user(spec: str) -> tuple[str, str]:
    user, sep, password = spec.partition(":")
    if not sep or not user:
        raise argparse.ArgumentTypeError("expected USERNAME:PASSWORD")
    return user, password


def parse_args(argv: list[str] | None = None) -> tuple[Options, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m bms_sandbox", description="Kaseya BMS v2 sandbox server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8001, help="0 picks a free port (printed on stdout)")
    p.add_argument("--config", type=Path, help="JSON file with any of the options below (CLI wins)")
    for name in INT_OPTIONS:
        p.add_argument("--" + name.replace("_", "-"), type=int, default=None)
    p.add_argument("--tenant", default=None)
    p.add_argument("--currency-code", default=None, help="the tenant's currency (default USD)")
    p.add_argument("--culture-code", default=None, help="the tenant's culture (default en-US)")
    p.add_argument("--date-format", default=None, help="the tenant's .NET date format (default MM/dd/yyyy)")
    p.add_argument(
        "--user",
        dest="users",
        action="append",
        type=_user,
        metavar="USERNAME:PASSWORD",
        help="repeatable; users get full rights (default api@demo.local:demo-bms)",
    )
    p.add_argument("--anchor", default=None, help="ISO date-time generated data ends at (default: today 00:00Z)")
    p.add_argument("--xero-url", default=None, help="a Xero sandbox whose payments BMS imports (loop back)")
    p.add_argument(
        "--xero-import-interval", type=float, default=None, help="seconds between scheduled imports (default 0: off)"
    )
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    ns = p.parse_args(argv)
    cfg: dict[str, Any] = {}
    if ns.config:
        cfg = {k.replace("-", "_"): v for k, v in json.loads(ns.config.read_text()).items()}
        if "users" in cfg:
            cfg["users"] = [_user(u) if isinstance(u, str) else (u["username"], u["password"]) for u in cfg["users"]]
        if "user" in cfg:
            cfg.setdefault("users", []).extend(_user(u) for u in cfg.pop("user"))
    locale_options = ("currency_code", "culture_code", "date_format")
    for name in (*INT_OPTIONS, "tenant", "users", "anchor", "xero_url", "xero_import_interval", *locale_options):
        v = getattr(ns, name)
        if v is not None:
            cfg[name] = v
    known = set(Options.__dataclass_fields__)
    unknown = set(cfg) - known
    if unknown:
        p.error(f"unknown config keys: {sorted(unknown)}")
    return Options(**cfg), ns


def main(argv: list[str] | None = None) -> None:
    opts, ns = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(opts, ns.host, ns.port, ns.verbose)


if __name__ == "__main__":
    main()
