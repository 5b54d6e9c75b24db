"""Autopay benchmark against localstripe: N due invoices over M organizations, each with a saved
card and an autopay rule.

Figures: charges per second of the portal's autopay run (the daily evaluation scheduling and
charging every due invoice, each charge recorded, leased, created, confirmed and applied,
notifications included) beside a baseline that makes the same Stripe calls (create a
PaymentIntent, confirm it) with no portal bookkeeping, and their ratio (target >= 0.7); Stripe
requests per charge (target <= 3); peak RSS of the run; and the measured peak request rate
(most requests sent in any one second), which must not pass STRIPE_REQUESTS_PER_SECOND (default
25: both runs go through the gateway's pacer, shared through Redis).

    python -m benchmarks.autopay --size small   # 200 invoices, 20 organizations, SQLite
    python -m benchmarks.autopay --size full --database-url postgres://.../bench_autopay_x

Each measured job runs in its own process (its peak RSS is its own) and prints one JSON line.
Both runs go batch by batch of ``--batch`` organizations (default 100, 1,000 invoices at full
size), localstripe flushed between batches: it re-pickles its whole state on every write, so
past a few thousand charges it, not the portal, would set the pace (measured here: 20 ms per
charge at 300 charges, 115 ms at 1,200). Only the runs themselves are timed.
Written to bench-results/autopay.json.
"""

from __future__ import annotations

import argparse
import json
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

SIZES = {"full": (10_000, 1_000), "small": (200, 20)}  # invoices, organizations
SECRET_KEY = "sk_test_bench_autopay"
TODAY_OFFSET_DAYS = 1  # invoices dated yesterday; the rule charges 0 days after the invoice date


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_rate(times: list[float], window: float = 1.0) -> int:
    """The most requests sent within any ``window`` seconds (half-open windows)."""
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class _Recording:
    """Wraps a pacer: the moment each request is let go, and its endpoint."""

    def __init__(self, pacer):
        self.pacer = pacer
        self.sent: list[tuple[float, str]] = []

    def __call__(self, endpoint_key: str) -> None:
        if self.pacer is not None:
            self.pacer(endpoint_key)
        self.sent.append((time.monotonic(), endpoint_key))

    def figures(self) -> dict:
        counts: dict[str, int] = {}
        for _, key in self.sent:
            counts[key] = counts.get(key, 0) + 1
        return {"requests": counts, "peak_requests_per_second": peak_rate([t for t, _ in self.sent])}


# --- jobs (each in its own process) ---------------------------------------------------------------


def job_setup(invoices: int, organizations: int, plan_path: str) -> dict:
    """The tenant: organizations with a Stripe customer and a saved card, an autopay rule each,
    and due invoices; the Stripe integration pointed at localstripe. Writes the baseline's plan."""
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from accounts.models import User
    from billing.models import Invoice
    from integrations.models import DataSource
    from integrations.registry import get_provider
    from integrations.services import integration_save_settings
    from organizations.models import Organization
    from payments.models import AutopayRule, AutopayTiming, PaymentCustomer, PaymentMethod

    admin, _ = User.objects.get_or_create(email="bench@local", defaults={"role": "master_admin"})
    integration_save_settings(
        provider=get_provider("stripe"),
        actor=admin,
        cleaned_data={
            "publishable_key": "pk_test_bench",
            "secret_key": SECRET_KEY,
            "webhook_secret": "whsec_bench",
            "mode": "test",
        },
    )
    source, _ = DataSource.objects.get_or_create(
        provider_key="kaseya-bms", tenant_key="tenant:bench-autopay", defaults={"display_name": "Bench MSP"}
    )
    now = timezone.now()
    orgs = Organization.objects.bulk_create(
        Organization(source=source, bms_id=900_000 + i, sync_hash="x", synced_at=now, name=f"Bench Org {i:04d}")
        for i in range(organizations)
    )
    plan = []
    methods = []
    for org in orgs:
        # Made in localstripe batch by batch (see _stripe_batch); placeholders until then.
        customer, card = f"cus_pending_{org.pk}", f"pm_pending_{org.pk}"
        PaymentCustomer.objects.create(organization=org, processor="stripe", customer_id=customer)
        methods.append(
            PaymentMethod(
                organization=org,
                processor="stripe",
                processor_customer_id=customer,
                processor_method_id=card,
                kind="card",
                brand="visa",
                last4="4242",
                exp_month=12,
                exp_year=2034,
                funding="credit",
                is_default=True,
            )
        )
    methods = PaymentMethod.objects.bulk_create(methods)
    AutopayRule.objects.bulk_create(
        AutopayRule(
            organization=m.organization, method=m, timing=AutopayTiming.DAYS_AFTER_INVOICE, days=0, enabled=False
        )
        for m in methods
    )
    dated = now - timedelta(days=TODAY_OFFSET_DAYS)
    rows = []
    for i in range(invoices):
        method = methods[i % organizations]
        amount = Decimal(100 + (i % 900)) + Decimal("0.25")
        rows.append(
            Invoice(
                source=source,
                bms_id=800_000 + i,
                sync_hash="x",
                synced_at=now,
                organization=method.organization,
                number=f"BENCH-{i:05d}",
                total=amount,
                balance_due=amount,
                invoice_date=dated,
                due_date=dated + timedelta(days=30),
            )
        )
        plan.append([i % organizations, int(amount * 100)])
    Invoice.objects.bulk_create(rows, batch_size=1000)
    Path(plan_path).write_text(json.dumps(plan))
    return {"organizations": organizations, "invoices": invoices}


def _customer_with_card(api: str, name: str) -> tuple[str, str]:
    """A Stripe customer and an attached card, made directly (the tenant's setup, not measured)."""
    import requests

    auth = (SECRET_KEY, "")
    customer = requests.post(f"{api}/v1/customers", data={"name": name}, auth=auth, timeout=30).json()["id"]
    card = requests.post(
        f"{api}/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": "4242424242424242",
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        auth=auth,
        timeout=30,
    ).json()["id"]
    requests.post(f"{api}/v1/payment_methods/{card}/attach", data={"customer": customer}, auth=auth, timeout=30)
    return customer, card


def _flush(api: str) -> None:
    """localstripe forgets everything (it re-pickles its whole state on every write, so a large
    state would make it, not the portal, the bottleneck)."""
    import requests

    requests.delete(f"{api}/_config/data", timeout=60)


def _batches(organizations: int, batch: int) -> list[range]:
    return [range(start, min(start + batch, organizations)) for start in range(0, organizations, batch)]


def job_baseline(plan_path: str, batch: int) -> dict:
    """The same Stripe calls as a charge (create the PaymentIntent, confirm it), nothing else,
    from as many processes as the portal's run, batch by batch as the portal's run."""
    import multiprocessing

    plan = json.loads(Path(plan_path).read_text())
    api = os.environ["STRIPE_API_BASE"]
    organizations = max(org for org, _ in plan) + 1
    workers = int(os.environ.get("BENCH_AUTOPAY_WORKERS", "4"))
    seconds, outcomes = 0.0, []
    for orgs in _batches(organizations, batch):
        _flush(api)
        cards = {i: _customer_with_card(api, f"Bench Org {i:04d}") for i in orgs}
        work = [(n, *cards[org], amount) for n, (org, amount) in enumerate(plan) if org in cards]
        started = time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers, initializer=_baseline_init) as pool:
            outcomes += pool.map(_baseline_charge, work, chunksize=4)
        seconds += time.perf_counter() - started
    sent = [item for _, times in outcomes for item in times]
    return {
        "seconds": seconds,
        "charges": sum(ok for ok, _ in outcomes),
        "workers": workers,
        "peak_rss_mb": max(_peak_rss_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        **_figures(sent),
    }


_process_recording: _Recording | None = None
_process_gateway = None


def _baseline_init() -> None:
    import redis

    from providers.stripe.client import StripeGateway
    from providers.stripe.pacing import RequestPacer

    global _process_recording, _process_gateway
    rate = float(os.environ["STRIPE_REQUESTS_PER_SECOND"])
    pacer = RequestPacer(rate, redis=redis.Redis.from_url(os.environ["REDIS_URL"])) if rate else None
    _process_recording = _Recording(pacer)
    _process_gateway = StripeGateway(
        SECRET_KEY, api_base=os.environ["STRIPE_API_BASE"], max_network_retries=0, pacer=_process_recording
    )


def _baseline_charge(item) -> tuple[bool, list]:
    n, customer, method, amount = item
    _process_recording.sent = []
    intent = _process_gateway.create_payment_intent(
        amount=amount,
        currency="usd",
        customer=customer,
        payment_method=method,
        payment_method_types=("card",),
        metadata={"reference": f"baseline-{n}"},
        idempotency_key=f"baseline-create-{n}",
        confirm=False,
    )
    confirmed = _process_gateway.confirm_payment_intent(intent.id, idempotency_key=f"baseline-confirm-{n}")
    return confirmed.status.value == "succeeded", _process_recording.sent


def _figures(sent: list[tuple[float, str]]) -> dict:
    recording = _Recording(None)
    recording.sent = sent
    return recording.figures()


def job_portal(batch: int) -> dict:
    """The daily autopay run: the evaluation schedules every due invoice and records its payment
    (queuing its charge task), then BENCH_AUTOPAY_WORKERS processes run the charge tasks, as
    that many Celery workers would. Timed from the evaluation's start to the last charge, batch
    by batch of ``batch`` organizations (the others' rules off; localstripe flushed between)."""
    import multiprocessing

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.utils import timezone

    from organizations.models import Organization
    from payments import autopay
    from payments.models import AutopayRule, Payment, PaymentCustomer, PaymentMethod, PaymentStatus
    from payments.tasks import charge_payment_task

    queued: list[int] = []
    charge_payment_task.delay = queued.append  # the queue: the workers below take from it
    workers = int(os.environ.get("BENCH_AUTOPAY_WORKERS", "4"))
    api = settings.STRIPE_API_BASE
    organization_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    seconds = evaluated = 0.0
    sent: list = []
    counts: dict[str, int] = {}
    for orgs in _batches(len(organization_ids), batch):
        ids = [organization_ids[i] for i in orgs]
        _flush(api)
        for org_id in ids:  # the batch's customers and cards, in the fresh localstripe
            customer, card = _customer_with_card(api, f"Bench Org {org_id}")
            PaymentCustomer.objects.filter(organization_id=org_id).update(customer_id=customer)
            PaymentMethod.objects.filter(organization_id=org_id).update(
                processor_customer_id=customer, processor_method_id=card
            )
        AutopayRule.objects.update(enabled=False)
        AutopayRule.objects.filter(organization_id__in=ids).update(enabled=True)
        queued.clear()
        started = time.perf_counter()
        for key, value in autopay.autopay_evaluate(today=timezone.localdate()).items():
            counts[key] = counts.get(key, 0) + value
        evaluated += time.perf_counter() - started
        connections.close_all()  # each worker process opens its own
        with multiprocessing.get_context("fork").Pool(workers, initializer=_portal_init) as pool:
            sent += [item for times in pool.map(_portal_charge, queued, chunksize=4) for item in times]
        seconds += time.perf_counter() - started
    return {
        "seconds": seconds,
        "evaluation_seconds": evaluated,
        "charges": Payment.objects.filter(status=PaymentStatus.SUCCEEDED).count(),
        "not_succeeded": Payment.objects.exclude(status=PaymentStatus.SUCCEEDED).count(),
        "autopay_counts": counts,
        "workers": workers,
        "peak_rss_mb": max(_peak_rss_mb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        **_figures(sent),
    }


def _portal_init() -> None:
    from django.conf import settings

    import providers.stripe.installation as stripe_installation

    global _process_recording
    _process_recording = _Recording(stripe_installation.shared_pacer(settings.STRIPE_REQUESTS_PER_SECOND))
    stripe_installation.shared_pacer = lambda rate: _process_recording  # every gateway of the process


def _portal_charge(payment_id: int) -> list:
    from payments import services

    _process_recording.sent = []
    services.payment_charge(payment_id=payment_id)  # the charge task's body, as a worker runs it
    return _process_recording.sent


# --- the orchestration ----------------------------------------------------------------------------


def _run_job(args: list[str], env: dict) -> dict:
    profile = ["-m", "cProfile", "-o", f"bench-results/autopay-{args[0]}.prof"]
    profiled = profile if os.environ.get("BENCH_AUTOPAY_PROFILE") == args[0] else []
    command = [sys.executable, *profiled, "-m", "benchmarks.autopay", "--job", *args]
    out = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"autopay job {args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _reset_postgres(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if name in ("postgres", "template0", "template1"):
        raise SystemExit(f"Refusing to use the {name!r} database: name one of the benchmark's own.")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _drop_postgres(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def bench_autopay(
    size: str,
    database_url: str | None,
    *,
    rate: float,
    workers: int = 4,
    batch: int = 100,
    keep_database: bool = False,
) -> dict:
    from scripts.localstripe_server import start_localstripe

    invoices, organizations = SIZES[size]
    workdir = Path(tempfile.mkdtemp(prefix="bench-autopay-"))
    if database_url and database_url.startswith("postgres"):
        _reset_postgres(database_url)
    else:
        database_url = f"sqlite:///{workdir / 'bench.sqlite3'}"
    localstripe = start_localstripe(log=subprocess.DEVNULL)
    baseline_stripe = start_localstripe(log=subprocess.DEVNULL)  # as much state as the portal's
    env = dict(os.environ)
    env.update(
        PORTAL_ENV="development",
        DEBUG="false",
        DJANGO_SETTINGS_MODULE="connectbooster.settings",
        DATABASE_URL=database_url,
        STRIPE_API_BASE=localstripe.url,
        STRIPE_MAX_NETWORK_RETRIES="0",
        STRIPE_REQUESTS_PER_SECOND=str(rate),
        LOG_LEVEL="WARNING",
    )
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    env.setdefault("BENCH_AUTOPAY_WORKERS", str(workers))
    result: dict = {
        "size": size,
        "invoices": invoices,
        "organizations": organizations,
        "rate_limit": rate,
        "batch_organizations": batch,
    }
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
        plan = str(workdir / "plan.json")
        print(f"[autopay {size}] setting up {invoices:,} invoices over {organizations:,} organizations...", flush=True)
        _run_job(["setup", str(invoices), str(organizations), plan], env)
        print(f"[autopay {size}] baseline: the same Stripe calls, no bookkeeping...", flush=True)
        result["baseline"] = _run_job(["baseline", plan, str(batch)], {**env, "STRIPE_API_BASE": baseline_stripe.url})
        print(f"[autopay {size}] the portal's autopay run...", flush=True)
        result["portal"] = _run_job(["portal", str(batch)], env)
    finally:
        localstripe.stop()
        baseline_stripe.stop()
        if database_url.startswith("postgres") and not keep_database:
            _drop_postgres(database_url)
    for run in (result["baseline"], result["portal"]):
        run["charges_per_second"] = run["charges"] / run["seconds"] if run["seconds"] else 0.0
        run["requests_per_charge"] = sum(run["requests"].values()) / max(1, run["charges"])
    result["ratio"] = result["portal"]["charges_per_second"] / max(1e-9, result["baseline"]["charges_per_second"])
    result["peak_rate_within_limit"] = (
        not rate
        or max(result["portal"]["peak_requests_per_second"], result["baseline"]["peak_requests_per_second"]) <= rate
    )
    return result


def print_autopay(result: dict) -> None:
    portal, base = result["portal"], result["baseline"]
    print(
        f"\nAutopay ({result['invoices']:,} due invoices over {result['organizations']:,} organizations,"
        f" Stripe rate limit {result['rate_limit']:g}/s, {portal['workers']} charge workers,"
        f" localstripe flushed every {result['batch_organizations']} organizations):"
    )
    for name, run in (("portal autopay run", portal), ("baseline (Stripe calls only)", base)):
        print(
            f"  {name:30} {run['seconds']:8.1f} s  {run['charges']:6,} charges"
            f"  {run['charges_per_second']:7.2f} charges/s"
            f"  {run['requests_per_charge']:.2f} requests/charge  peak {run['peak_requests_per_second']} requests/s"
            f"  peak RSS {run['peak_rss_mb']:.0f} MB"
        )
    print(f"  ratio portal/baseline: {result['ratio']:.2f} (target >= 0.7)")
    print(f"  Stripe requests per charge (portal): {portal['requests_per_charge']:.2f} (target <= 3)")
    print(
        f"  peak request rate: {max(portal['peak_requests_per_second'], base['peak_requests_per_second'])}/s"
        f" (limit {result['rate_limit']:g}/s): {'within' if result['peak_rate_within_limit'] else 'EXCEEDED'}"
    )
    for endpoint, count in sorted(portal["requests"].items()):
        print(f"    {endpoint:45} {count:6,}")
    if portal.get("not_succeeded"):
        print(f"  payments not succeeded: {portal['not_succeeded']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_AUTOPAY_DATABASE_URL") or None)
    default_rate = float(os.environ.get("STRIPE_REQUESTS_PER_SECOND") or 25)
    parser.add_argument("--rate", type=float, default=default_rate, help="Stripe requests per second (0: unpaced)")
    parser.add_argument("--workers", type=int, default=4, help="charge workers (processes), for both runs")
    parser.add_argument(
        "--batch", type=int, default=100, help="organizations per batch (localstripe flushed between batches)"
    )
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()
    result = bench_autopay(
        args.size,
        args.database_url,
        rate=args.rate,
        workers=args.workers,
        batch=args.batch,
        keep_database=args.keep_database,
    )
    print_autopay(result)
    out = ROOT / "bench-results"
    out.mkdir(exist_ok=True)
    (out / "autopay.json").write_text(json.dumps(result, indent=2, default=str))
    print(f"\nWritten to {out / 'autopay.json'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--job"]:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")
        job, *job_args = sys.argv[2:]
        if job == "setup":
            figures = job_setup(int(job_args[0]), int(job_args[1]), job_args[2])
        elif job == "baseline":
            figures = job_baseline(job_args[0], int(job_args[1]))
        else:
            figures = job_portal(int(job_args[0]))
        print(json.dumps(figures))
    else:
        main()
