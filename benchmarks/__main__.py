"""Sync benchmark against sandbox tenants of 10k and of full size, on PostgreSQL, then the
autopay benchmark (benchmarks/autopay.py; ``python -m benchmarks autopay --size small`` alone)
and the Xero sync benchmark (benchmarks/xero.py; ``python -m benchmarks xero`` alone).

Figures: full-sync wall time and records/s, the download-only baseline and the ratio,
requests per endpoint and per 1,000 records, peak RSS of the syncing process, and
incremental syncs with no change and with 1% changed. Printed as a table and written
to bench-results/sync.json.

Every measured phase meets the same sandbox: its caches (the invoices it keeps generated,
query results, formatted dates) are dropped and its indexes built before the phase starts,
so no phase profits from the reads of the one before (`measure`). The download-only
baseline runs both before and after the full sync, and the ratio is printed for both
orders. The one exception is labelled: the second no-change incremental run measures a
warm sandbox on purpose.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.pages import bench_pages, print_pages  # noqa: E402
from bms_sandbox.testing import SandboxServer  # noqa: E402

SIZES = {
    # 1,000 organizations, 10,000 contacts, 2,000 contracts, 50,000 tickets, 100,000 invoices
    "full": {
        "accounts": 1000,
        "contacts_per_account": 10,
        "contracts_per_account": 2,
        "tickets_per_account": 50,
        "invoices_per_account": 100,
        "lines_per_invoice": 3,
    },
    "10k": {
        "accounts": 100,
        "contacts_per_account": 10,
        "contracts_per_account": 2,
        "tickets_per_account": 10,
        "invoices_per_account": 25,
        "lines_per_invoice": 3,
    },
}
LIST_ENDPOINTS = {
    "GET /v2/crm/accounts/summary": "accounts",
    "GET /v2/crm/contacts/summary": "contacts",
    "GET /v2/finance/contracts/summary": "contracts",
    "POST /v2/servicedesk/tickets/search": "tickets",
    "GET /v2/finance/invoices/summary": "invoices",
}
PAGE_SIZE = 100


def _env(database_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        PORTAL_ENV="development",
        DEBUG="false",  # as in production: no per-query logging
        DJANGO_SETTINGS_MODULE="connectbooster.settings",
        DATABASE_URL=database_url,
        BMS_ALLOWED_INSECURE_HOSTS="127.0.0.1:*",  # the sandboxes listen on ports chosen at start
        # The benchmark measures the engine, not BMS's 1,500/h budget (which would make a
        # 100k-invoice first sync take hours by design).
        BMS_HOURLY_REQUEST_LIMIT="100000000",
        LOG_LEVEL="WARNING",
    )
    return env


def _run_json(args: list[str], env: dict) -> dict:
    out = subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reset_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _django(env: dict, code: str) -> None:
    subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], env=env, cwd=ROOT, check=True)


def _configure(env: dict, sandbox: SandboxServer) -> None:
    _django(
        env,
        (
            "from accounts.models import User; from integrations.registry import get_provider;"
            "from integrations.models import Integration;"
            "from integrations.registry import installation_of;"
            "from integrations.services import data_source_link, integration_save_settings;"
            "Integration.objects.all().delete();"
            "admin, _ = User.objects.get_or_create(email='bench@local', defaults={'role': 'master_admin'});"
            f"integration = integration_save_settings(provider=get_provider('kaseya-bms'), actor=admin, cleaned_data={{"
            f"'company_name': {sandbox.tenant!r}, 'username': {sandbox.username!r}, "
            f"'password': {sandbox.password!r}, 'server_url': {sandbox.url!r}}});"
            # Identify the tenant as Test Connection does (without queueing the initial sync it would).
            "result = installation_of(integration).test_connection();"
            "assert result.passed, result.summary;"
            "data_source_link(integration=integration, tenant=result.tenant)"
        ),
    )


def _mutate_one_percent(sandbox: SandboxServer, spec: dict) -> int:
    control = sandbox.control
    rng = random.Random(7)
    accounts = spec["accounts"]
    changes = 0
    for _ in range(max(1, accounts // 100)):
        control.mutate("account.update", id=rng.randint(1, accounts), website="https://changed.example")
        changes += 1
    for _ in range(max(1, accounts * spec["contacts_per_account"] // 100)):
        control.mutate("contact.update", id=rng.randint(1, accounts * spec["contacts_per_account"]), jobTitle="Changed")
        changes += 1
    for _ in range(max(1, accounts * spec["tickets_per_account"] // 100)):
        control.mutate("ticket.activity", id=rng.randint(1, accounts * spec["tickets_per_account"]))
        changes += 1
    open_ids = [i["id"] for i in control.records("invoices") if i["paymentDue"] > 0 and i["statusName"] != "Draft"]
    for invoice_id in rng.sample(open_ids, min(len(open_ids), accounts * spec["invoices_per_account"] // 100)):
        control.mutate("invoice.pay", id=invoice_id)
        changes += 1
    return changes


def _minimum_list_requests(sandbox: SandboxServer, spec: dict) -> dict[str, int]:
    totals = {
        "accounts": spec["accounts"],
        "contacts": spec["accounts"] * spec["contacts_per_account"],
        "contracts": spec["accounts"] * spec["contracts_per_account"],
        "tickets": spec["accounts"] * spec["tickets_per_account"],
        "invoices": spec["accounts"] * spec["invoices_per_account"],
    }
    return {entity: max(1, math.ceil(n / PAGE_SIZE)) for entity, n in totals.items()}


def measure(sandbox: SandboxServer, name: str, job: Callable[[], dict], *, cold: bool = True) -> dict:
    """Run one measured phase; ``cold``: on a sandbox whose caches were just dropped (and
    indexes built), as every phase but an explicitly warm one."""
    if cold:
        sandbox.control.reset_caches()
    print(f"  {name}...", flush=True)
    return job()


def bench_size(label: str, spec: dict, database_url: str, *, incremental: bool) -> dict:
    env = _env(database_url)
    _reset_database(database_url)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    result: dict = {"size": label, "tenant": spec}
    with SandboxServer(hourly_limit=10**9, **spec) as sandbox:
        credentials = [sandbox.url, sandbox.tenant, sandbox.username, sandbox.password]

        def baseline() -> dict:
            return _run_json(["-m", "benchmarks.worker", "baseline", *credentials], env)

        def sync() -> dict:
            return _run_json(["-m", "benchmarks.worker", "sync"], env)

        print(f"[{label}]", flush=True)
        # Both orders: the baseline before the full sync, and again after it.
        result["baseline"] = measure(sandbox, "download-only baseline, before the sync", baseline)
        _configure(env, sandbox)
        result["full_sync"] = measure(sandbox, "full sync", sync)
        result["baseline_after_sync"] = measure(sandbox, "download-only baseline, after the sync", baseline)
        minimum = _minimum_list_requests(sandbox, spec)
        made = {LIST_ENDPOINTS[k]: v for k, v in result["full_sync"]["requests"].items() if k in LIST_ENDPOINTS}
        result["list_requests"] = {
            "made": made,
            "minimum": minimum,
            "ratio": sum(made.values()) / sum(minimum.values()),
        }
        if incremental:
            result["incremental_no_change"] = measure(sandbox, "incremental sync, no change", sync)
            # Warm on purpose: the first run also paid the sandbox's first scan of each status filter.
            result["incremental_no_change_again"] = measure(
                sandbox, "incremental sync, no change, again (warm sandbox)", sync, cold=False
            )
            changes = _mutate_one_percent(sandbox, spec)
            result["incremental_one_percent"] = measure(
                sandbox, f"incremental sync, 1% changed ({changes} changes)", sync
            )
            result["incremental_one_percent"]["changes"] = changes
    full = result["full_sync"]
    full["records_per_second"] = full["records"] / full["seconds"]
    for key in ("baseline", "baseline_after_sync"):
        base = result[key]
        base["records_per_second"] = base["records"] / base["seconds"]
    result["sync_vs_baseline"] = full["records_per_second"] / result["baseline"]["records_per_second"]
    result["sync_vs_baseline_after"] = full["records_per_second"] / result["baseline_after_sync"]["records_per_second"]
    total_requests = sum(full["requests"].values())
    full["requests_per_1000_records"] = 1000 * total_requests / full["records"]
    return result


def _print(results: list[dict]) -> None:
    rows = []
    for r in results:
        full, base, after = r["full_sync"], r["baseline"], r["baseline_after_sync"]
        rows += [
            (
                r["size"],
                "full sync",
                f"{full['seconds']:.1f} s",
                f"{full['records']:,} records",
                f"{full['records_per_second']:,.0f} rec/s",
                f"peak RSS {full['peak_rss_mb']:.0f} MB",
            ),
            (
                r["size"],
                "download only, before the sync",
                f"{base['seconds']:.1f} s",
                f"{base['records']:,} records",
                f"{base['records_per_second']:,.0f} rec/s",
                f"sync/baseline {r['sync_vs_baseline']:.2f}",
            ),
            (
                r["size"],
                "download only, after the sync",
                f"{after['seconds']:.1f} s",
                f"{after['records']:,} records",
                f"{after['records_per_second']:,.0f} rec/s",
                f"sync/baseline {r['sync_vs_baseline_after']:.2f}",
            ),
            (
                r["size"],
                "list requests",
                f"{sum(r['list_requests']['made'].values()):,} made",
                f"{sum(r['list_requests']['minimum'].values()):,} minimum",
                f"ratio {r['list_requests']['ratio']:.3f}",
                f"{full['requests_per_1000_records']:.1f} requests / 1,000 records",
            ),
        ]
        for key, name in (
            ("incremental_no_change", "incremental, no change"),
            ("incremental_no_change_again", "incremental, no change, again (warm)"),
            ("incremental_one_percent", "incremental, 1% changed"),
        ):
            if key in r:
                inc = r[key]
                rows.append(
                    (
                        r["size"],
                        name,
                        f"{inc['seconds']:.2f} s",
                        f"{sum(inc['requests'].values())} requests",
                        ", ".join(f"{k.split(' ', 1)[1]}: {v}" for k, v in sorted(inc["requests"].items())),
                        "",
                    )
                )
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    for row in rows:
        print("  ".join(str(cell).ljust(widths[i]) if i < 5 else str(cell) for i, cell in enumerate(row)))
    for r in results:
        print(f"\n[{r['size']}] requests per endpoint (full sync):")
        for endpoint, count in sorted(r["full_sync"]["requests"].items()):
            print(f"  {endpoint:45} {count:6,}")


def main() -> None:
    if sys.argv[1:2] == ["autopay"]:  # python -m benchmarks autopay [--size small|full] ...
        from benchmarks import autopay

        sys.argv = [sys.argv[0], *sys.argv[2:]]
        autopay.main()
        return
    if sys.argv[1:2] == ["xero"]:  # python -m benchmarks xero [--size small|full] ...
        from benchmarks import xero

        xero.main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/portal_bench",
    )
    parser.add_argument("--sizes", default="10k,full")
    parser.add_argument("--no-pages", action="store_true", help="skip the client-portal page benchmark")
    parser.add_argument("--pages-only", action="store_true", help="only the pages, on the last synced DB")
    parser.add_argument("--no-autopay", action="store_true", help="skip the autopay benchmark")
    parser.add_argument("--autopay-size", default="full", help="full (10,000 invoices) or small (200)")
    parser.add_argument("--no-xero", action="store_true", help="skip the Xero sync benchmark")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        raise SystemExit("The benchmark runs on PostgreSQL: set BENCH_DATABASE_URL=postgres://...")
    if args.pages_only:
        _run_pages(args.database_url, ROOT / "bench-results")
        return
    results = [
        bench_size(label, SIZES[label], args.database_url, incremental=label == "full")
        for label in args.sizes.split(",")
    ]
    sizes = {r["size"]: r for r in results}
    if "10k" in sizes and "full" in sizes:
        growth = sizes["full"]["full_sync"]["peak_rss_mb"] - sizes["10k"]["full_sync"]["peak_rss_mb"]
        print(f"\nPeak RSS growth from 10k to full size: {growth:.1f} MB (target < 50 MB)")
    _print(results)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "sync.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\nWritten to {out / 'sync.json'}")
    if not args.no_pages:
        _run_pages(args.database_url, out)
    if not args.no_autopay:
        _run_autopay(args.database_url, args.autopay_size, out)
    if not args.no_xero:
        _run_xero(args.database_url, out)


def _run_autopay(database_url: str, size: str, out: Path) -> None:
    """On a database of its own beside the sync's (``<name>_autopay``), dropped afterwards."""
    from benchmarks.autopay import bench_autopay, print_autopay

    parts = urlsplit(database_url)
    own = urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_autopay"))
    rate = float(os.environ.get("STRIPE_REQUESTS_PER_SECOND") or 25)
    result = bench_autopay(size, own, rate=rate)
    print_autopay(result)
    (out / "autopay.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"Written to {out / 'autopay.json'}")


def _run_xero(database_url: str, out: Path) -> None:
    """On a database of its own beside the sync's (``<name>_xero``), dropped afterwards."""
    from benchmarks.xero import bench_xero, database_beside, report

    report(bench_xero("full", database_beside(database_url)), out)


def _run_pages(database_url: str, out: Path) -> None:
    """On the database the last sync filled (its organizations and invoices)."""
    pages = bench_pages(_env(database_url))
    print_pages(pages)
    out.mkdir(exist_ok=True)
    (out / "pages.json").write_text(json.dumps(pages, indent=2))
    print(f"Written to {out / 'pages.json'}")


if __name__ == "__main__":
    main()
