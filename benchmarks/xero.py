"""Xero benchmark: a full contact and invoice sync of a large Xero sandbox organisation into the
portal, then incremental runs with nothing changed and with 100 invoices and 10 contacts changed.

    python -m benchmarks xero [--size full|small] [--database-url postgres://.../bench_xero]

The organisation (full size): the Xero sandbox's tenant of 1,000 BMS accounts with 125 invoices
each, i.e. 1,100 contacts (the 1,000 BMS has plus 100 only in Xero) and 100,447 invoices in Xero.

Figures: records, wall time and records/s of the full sync beside a download-only baseline (the
same listings through the same client, the records discarded); the Accounting API calls the sandbox
counted against the minimum for Xero's page size (one call per 1,000 records of each listing); the
time a real organisation would need for those calls under Xero's limits (60 calls a minute, 5,000 a
day, 5 at once), beside what Xero's default page of 100 would need; the incremental runs' calls and
time; the peak RSS of the syncing process. Written to bench-results/xero.json.

The minute and day limits are lifted for the measurement, in the sandbox and in the portal's
shared budget alike (5 at once is kept): the time a real organisation needs is computed from the
calls made, not waited out. ``--real-limits`` keeps Xero's limits instead, to see them at work.
Every measured job runs in its own process. The database: ``--database-url`` or
BENCH_XERO_DATABASE_URL; else, when DATABASE_URL names PostgreSQL, a database of its own beside it
(``<name>_xero``); a PostgreSQL database is dropped and created first (and dropped after).
SQLite in a temporary directory otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from xero_sandbox.testing import XeroSandboxServer  # noqa: E402

SIZES = {
    # 1,100 contacts (1,000 matching BMS accounts + 100 only in Xero), 100,447 invoices
    "full": {"accounts": 1000, "invoices_per_account": 125},
    # 110 contacts, 2,015 invoices
    "small": {"accounts": 100, "invoices_per_account": 25},
}
# Xero's documented limits per organisation, and its page sizes.
MINUTE_LIMIT, DAY_LIMIT, CONCURRENT_LIMIT = 60, 5000, 5
PAGE_SIZE, DEFAULT_PAGE_SIZE = 1000, 100
LIFTED = 10**9  # the minute and day limits while measuring
LISTINGS = {"GET /api.xro/2.0/Contacts": "contacts", "GET /api.xro/2.0/Invoices": "invoices"}
CHANGED_INVOICES, CHANGED_CONTACTS = 100, 10


# --- what a real organisation would need ------------------------------------------------------------


def minimum_calls(records: dict[str, int], page_size: int = PAGE_SIZE) -> int:
    """One call per page of each listing (an empty listing still costs its one call)."""
    return sum(max(1, math.ceil(n / page_size)) for n in records.values())


def real_tenant_time(calls: int) -> dict:
    """The least time ``calls`` calls take under Xero's limits, the calls sent as fast as allowed:
    60 in any rolling minute (the first 60 at once, then 60 more each minute) and 5,000 in any
    rolling day (the same, a day apart). 5 at once never binds at one call a second."""
    full_days = (calls - 1) // DAY_LIMIT if calls else 0
    last_day_calls = calls - full_days * DAY_LIMIT
    minutes = max(0, math.ceil(last_day_calls / MINUTE_LIMIT) - 1)
    return {
        "calls": calls,
        "days_waiting_for_the_day_limit": full_days,
        "minutes_waiting_for_the_minute_limit": minutes,
        "seconds": full_days * 86400 + minutes * 60,
        "share_of_a_days_budget": calls / DAY_LIMIT,
    }


def describe_time(t: dict) -> str:
    parts = []
    if t["days_waiting_for_the_day_limit"]:
        parts.append(f"{t['days_waiting_for_the_day_limit']} day(s) waiting for the 5,000-a-day limit, then")
    minutes = t["minutes_waiting_for_the_minute_limit"]
    parts.append(f"{minutes} min of waiting for the 60-a-minute limit" if minutes else "no waiting")
    day = f"{t['share_of_a_days_budget']:.1%} of a day's 5,000"
    return f"{' '.join(parts)} ({t['calls']:,} calls, {day})"


# --- jobs (each in its own process) -----------------------------------------------------------------


def _lift_budget() -> None:
    """The portal's shared Redis budget at the lifted minute and day limits (5 at once kept)."""
    from functools import partial

    import django

    django.setup()
    from providers.xero import installation, pacing

    installation.XeroTenantBudget = partial(pacing.XeroTenantBudget, minute_limit=LIFTED, day_limit=LIFTED)


def job_setup(url: str, tenant_id: str) -> dict:
    """The Xero card saved with the sandbox's demo app, a grant on its main organisation stored as
    the callback stores one, and Test Connection passed (the tenant identified), as an admin leaves
    it; the initial sync Test Connection would queue is left to the measured job."""
    import django

    django.setup()
    from datetime import UTC, datetime

    from django.db import transaction

    from accounts.models import User
    from integrations.models import Integration
    from integrations.registry import get_provider, installation_of
    from integrations.services import data_source_link, integration_save_settings
    from providers.xero import services
    from providers.xero.types import Connection, TokenSet
    from xero_sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
    from xero_sandbox.testing import XeroControl

    Integration.objects.filter(provider_key="xero").delete()
    admin, _ = User.objects.get_or_create(email="bench@local", defaults={"role": "master_admin"})
    integration = integration_save_settings(
        provider=get_provider("xero"),
        actor=admin,
        cleaned_data={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "payment_account": "615",  # the sandbox's clearing account (payments enabled)
            "scope_set": "granular",
        },
    )
    answer = XeroControl(url).grant(tenant_ids=[tenant_id])
    token_set = TokenSet.from_api(answer, datetime.now(UTC))
    services.xero_grant_store(integration=integration, token_set=token_set)
    with transaction.atomic():
        services.xero_connect_complete(
            integration=integration,
            actor=admin,
            scopes=token_set.scopes,
            connections=[Connection("bench", tenant_id, "ORGANISATION", None, None, None, None)],
        )
    result = installation_of(integration).test_connection()
    if not result.passed:
        raise SystemExit(f"Test Connection failed: {result.summary}")
    data_source_link(integration=integration, tenant=result.tenant)
    return {"tenant": result.tenant.display_name}


def job_baseline(url: str, tenant_id: str) -> dict:
    """The sync's listings (same client, same parameters, pages of 1,000), the records discarded."""
    import django

    django.setup()
    from django.conf import settings

    from benchmarks.worker import _peak_rss_mb
    from providers.xero.client import XeroClient
    from providers.xero.sync_plan import PLAN
    from xero_sandbox.testing import XeroControl

    token = XeroControl(url).grant(tenant_ids=[tenant_id])["access_token"]
    client = XeroClient(settings.XERO_API_BASE_URL, lambda **_: token, tenant_id, timeout=(5, 120))
    started = time.perf_counter()
    records = 0
    for entity in PLAN.entities:
        number = 1
        while True:
            page = entity.list_page(client, number, PLAN.page_size)
            records += len(page.items)
            if page.is_last:
                break
            number += 1
    figures = {
        "seconds": time.perf_counter() - started,
        "records": records,
        "requests": dict(client.request_counts),
        "peak_rss_mb": _peak_rss_mb(),
    }
    return _with_cpu(figures)


def job_sync(limits: str = "lifted") -> dict:
    from benchmarks.worker import sync

    if limits == "lifted":
        _lift_budget()
    return _with_cpu(sync("xero"))


def _with_cpu(figures: dict) -> dict:
    """The job's figures and the CPU time its process used (setup included, about a second)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {**figures, "cpu_seconds": usage.ru_utime + usage.ru_stime}


def job_change(url: str, tenant_id: str) -> dict:
    """100 invoices and 10 contacts changed in Xero, spread over the whole history (the oldest
    invoices too: If-Modified-Since must find an invoice of two years ago paid today)."""
    import django

    django.setup()
    from providers.xero.models import XeroContact, XeroInvoice
    from xero_sandbox.testing import XeroControl

    control = XeroControl(url)
    open_ids = list(
        XeroInvoice.objects.filter(status="AUTHORISED", amount_due__gte=2)
        .order_by("xero_updated_at")
        .values_list("bms_id", flat=True)
    )
    step = max(1, len(open_ids) // CHANGED_INVOICES)
    chosen = open_ids[::step][:CHANGED_INVOICES]
    for n, invoice_id in enumerate(chosen):
        if n % 2:
            control.mutate("invoice.update", tenant_id=tenant_id, invoice=invoice_id, Reference=f"PO-BENCH-{n}")
        else:
            control.mutate("payment.create", tenant_id=tenant_id, invoice=invoice_id, amount=1.0, reference="bench")
    contacts = list(XeroContact.objects.order_by("name").values_list("bms_id", flat=True))
    for n, contact_id in enumerate(contacts[:: max(1, len(contacts) // CHANGED_CONTACTS)][:CHANGED_CONTACTS]):
        control.mutate("contact.update", tenant_id=tenant_id, contact=contact_id, EmailAddress=f"bench{n}@x.example")
    oldest = XeroInvoice.objects.filter(bms_id__in=chosen).order_by("xero_updated_at").first()
    return {
        "invoices": len(chosen),
        "contacts": min(CHANGED_CONTACTS, len(contacts)),
        "oldest_changed_invoice_last_updated": oldest.xero_updated_at.isoformat() if oldest else None,
    }


JOBS = {"setup": job_setup, "baseline": job_baseline, "sync": job_sync, "change": job_change}


# --- the orchestration ------------------------------------------------------------------------------


def _run_job(args: list[str], env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.xero", "--job", *args], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode != 0:
        raise SystemExit(f"xero job {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env(database_url: str, sandbox_url: str) -> dict:
    from benchmarks.__main__ import _env as bench_env

    return {
        **bench_env(database_url),
        "XERO_API_BASE_URL": f"{sandbox_url}/api.xro/2.0",
        "XERO_IDENTITY_URL": sandbox_url,
        "XERO_AUTHORIZE_URL": f"{sandbox_url}/identity/connect/authorize",
        "XERO_CONNECTIONS_URL": f"{sandbox_url}/connections",
    }


def _sandbox_calls(sandbox: XeroSandboxServer) -> dict[str, int]:
    """The Accounting API calls the sandbox answered since its count was last cleared (what Xero
    counts against the limits; refused and dropped calls not included)."""
    calls = sandbox.control.requests()["by_endpoint"].items()
    return {endpoint: n for endpoint, n in calls if endpoint.split(" ", 1)[-1].startswith("/api.xro/")}


def _cpu_seconds(pid: int | None) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is not there."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(sandbox: XeroSandboxServer, name: str, args: list[str], env: dict) -> dict:
    """One measured job; with the calls the sandbox answered and the CPU time it spent on them
    (where the time went: the portal's CPU, the sandbox's, or waiting)."""
    print(f"  {name}...", flush=True)
    sandbox.control.clear_requests()
    pid = sandbox.proc.pid if sandbox.proc else None
    before = _cpu_seconds(pid)
    figures = _run_job(args, env)
    after = _cpu_seconds(pid)
    figures["sandbox_calls"] = _sandbox_calls(sandbox)
    figures["sandbox_cpu_seconds"] = after - before if before is not None and after is not None else None
    return figures


def bench_xero(size: str, database_url: str | None, *, keep_database: bool = False, real_limits: bool = False) -> dict:
    from benchmarks.autopay import _drop_postgres, _reset_postgres

    spec = SIZES[size]
    if database_url and database_url.startswith("postgres"):
        _reset_postgres(database_url)
    else:
        database_url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='bench-xero-')) / 'bench.sqlite3'}"
    limits_kept = "real" if real_limits else "lifted"
    result: dict = {"size": size, "tenant": spec, "database": database_url.split(":", 1)[0], "limits": limits_kept}
    minute, day = (MINUTE_LIMIT, DAY_LIMIT) if real_limits else (LIFTED, LIFTED)
    limits = {"minute_limit": minute, "day_limit": day, "concurrent_limit": CONCURRENT_LIMIT}
    try:
        with XeroSandboxServer(**spec, **limits) as sandbox:
            main = next(t for t in sandbox.control.health()["tenants"] if t["main"])
            tenant_id = main["tenantId"]
            env = _env(database_url, sandbox.url)
            subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
            print(f"[xero {size}] {main['contacts']:,} contacts; setting up the Xero card...", flush=True)
            _run_job(["setup", sandbox.url, tenant_id], env)
            result["baseline"] = measure(sandbox, "download-only baseline", ["baseline", sandbox.url, tenant_id], env)
            sync = ["sync", limits_kept]
            result["full_sync"] = measure(sandbox, "full sync", sync, env)
            result["incremental_no_change"] = measure(sandbox, "incremental sync, no change", sync, env)
            print("  changing 100 invoices and 10 contacts in Xero...", flush=True)
            result["changes"] = _run_job(["change", sandbox.url, tenant_id], env)
            result["incremental_changed"] = measure(sandbox, "incremental sync, 110 changed", sync, env)
    finally:
        if database_url.startswith("postgres") and not keep_database:
            _drop_postgres(database_url)
    return summarize(result)


def summarize(result: dict) -> dict:
    full, base = result["full_sync"], result["baseline"]
    records = {
        entity: sum(c.get(k, 0) for k in ("created", "updated", "unchanged")) for entity, c in full["counts"].items()
    }
    calls = sum(full["sandbox_calls"].values())
    listing_calls = sum(v for k, v in full["sandbox_calls"].items() if k in LISTINGS)
    result["records"] = records
    full["records_per_second"] = full["records"] / full["seconds"]
    base["records_per_second"] = base["records"] / base["seconds"]
    result["sync_vs_baseline"] = full["records_per_second"] / base["records_per_second"]
    result["calls"] = {
        "made": calls,
        "listing_calls": listing_calls,
        "minimum": minimum_calls(records),
        "minimum_at_default_page_size": minimum_calls(records, DEFAULT_PAGE_SIZE),
    }
    result["calls"]["ratio"] = calls / result["calls"]["minimum"]
    floor = real_tenant_time(calls)
    result["real_tenant"] = {
        "full_sync": floor,
        # The portal's own pace here, and what a real organisation would take if Xero answered as
        # fast as the sandbox did: the slower of that pace and the limits' floor.
        "measured_calls_per_minute": calls / full["seconds"] * 60,
        "full_sync_estimate_seconds": max(full["seconds"], floor["seconds"]),
        "full_sync_at_default_page_size": real_tenant_time(result["calls"]["minimum_at_default_page_size"]),
        "incremental_no_change": real_tenant_time(sum(result["incremental_no_change"]["sandbox_calls"].values())),
    }
    changed = result["incremental_changed"]["counts"]
    result["changes_picked_up"] = {
        "invoices": changed["invoices"]["updated"],
        "contacts": changed["contacts"]["updated"],
    }
    return result


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def print_xero(result: dict) -> None:
    full, base, calls, real = result["full_sync"], result["baseline"], result["calls"], result["real_tenant"]
    records, changes, picked = result["records"], result["changes"], result["changes_picked_up"]
    default_calls = calls["minimum_at_default_page_size"]
    rows = [
        ("full sync", f"{full['seconds']:.1f} s", f"{full['records']:,} records",
         f"{full['records_per_second']:,.0f} rec/s", f"peak RSS {full['peak_rss_mb']:.0f} MB"),
        ("download only (baseline)", f"{base['seconds']:.1f} s", f"{base['records']:,} records",
         f"{base['records_per_second']:,.0f} rec/s", f"sync/baseline {result['sync_vs_baseline']:.2f}"),
        ("calls (full sync)", f"{calls['made']:,} made", f"{calls['minimum']:,} minimum",
         f"ratio {calls['ratio']:.3f}", f"pages of {PAGE_SIZE:,} ({default_calls:,} at Xero's default 100)"),
    ]  # fmt: skip
    for key, name in (
        ("incremental_no_change", "incremental, no change"),
        ("incremental_changed", "incremental, 110 changed"),
    ):
        run, made = result[key], result[key]["sandbox_calls"]
        per_endpoint = ", ".join(f"{k.rsplit('/', 1)[1]}: {v}" for k, v in sorted(made.items()))
        rows.append((name, f"{run['seconds']:.2f} s", f"{sum(made.values())} calls", per_endpoint,
                     f"peak RSS {run['peak_rss_mb']:.0f} MB"))  # fmt: skip
    limits_note = (
        "Xero's limits in force" if result["limits"] == "real" else "minute and day limits lifted, 5 at once kept"
    )
    print(
        f"\nXero ({result['size']}: {records['contacts']:,} contacts, {records['invoices']:,} invoices;"
        f" {result['database']}; {limits_note}):"
    )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  " + "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
    print(
        f"  picked up by the incremental run: {picked['invoices']} of {changes['invoices']} changed invoices"
        f" (the oldest last updated {changes['oldest_changed_invoice_last_updated']}),"
        f" {picked['contacts']} of {changes['contacts']} contacts"
    )
    for run, name in ((full, "full sync"), (base, "baseline")):
        if run.get("cpu_seconds") is not None and run.get("sandbox_cpu_seconds") is not None:
            print(
                f"  the {name}'s {run['seconds']:.0f} s: its process used {run['cpu_seconds']:.1f} s of CPU, the"
                f" sandbox {run['sandbox_cpu_seconds']:.1f} s (the rest: waiting for the database or a core)"
            )
    print("  A real organisation (60 calls a minute, 5,000 a day, 5 at once), the calls sent as fast as allowed:")
    print(f"    first full sync, pages of 1,000: {describe_time(real['full_sync'])}")
    print(
        f"      the portal's pace here: {real['measured_calls_per_minute']:.0f} calls a minute; with Xero answering"
        f" as fast as the sandbox did, at least {_duration(real['full_sync_estimate_seconds'])} in all"
    )
    print(f"    the same in Xero's default pages of 100: {describe_time(real['full_sync_at_default_page_size'])}")
    print(f"    incremental, no change: {describe_time(real['incremental_no_change'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_XERO_DATABASE_URL") or None)
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--real-limits", action="store_true", help="keep Xero's 60 a minute and 5,000 a day")
    args = parser.parse_args(argv)
    database_url = args.database_url or database_beside(os.environ.get("DATABASE_URL") or "")
    result = bench_xero(args.size, database_url, keep_database=args.keep_database, real_limits=args.real_limits)
    report(result, ROOT / "bench-results")


def database_beside(database_url: str) -> str | None:
    """A PostgreSQL database of the benchmark's own next to DATABASE_URL's (never that one)."""
    if not database_url.startswith("postgres"):
        return None
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path=f"{parts.path.rstrip('/')}_xero"))


def report(result: dict, out: Path) -> None:
    print_xero(result)
    out.mkdir(exist_ok=True)
    (out / "xero.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"Written to {out / 'xero.json'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")
        job, *job_args = sys.argv[2:]
        print(json.dumps(JOBS[job](*job_args)))
    else:
        main()
