"""Client-portal page latency on the production web server (gunicorn), and database
queries per page, for an organization with 5,000 invoices.

Run by `make bench` after the sync benchmark, on the database it filled.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
INVOICES = 5000
SAMPLES = 200

SETUP = """
import json
from datetime import timedelta
from decimal import Decimal
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone
from accounts.models import User
from billing.models import Invoice
from organizations.models import Organization

def with_invoices(org, wanted, offset):
    have = Invoice.objects.filter(organization=org).count()
    now = timezone.now()
    Invoice.objects.bulk_create([
        Invoice(source_id=org.source_id, bms_id=offset + i, sync_hash="bench", synced_at=now, organization=org,
                bms_account_id=org.bms_id, number=f"BENCH-{{offset + i}}", status="Sent",
                invoice_date=now - timedelta(days=i % 1500),
                due_date=now - timedelta(days=i % 1500 - 30),
                total=Decimal("120.00"), paid_amount=Decimal("0") if i % 3 else Decimal("120.00"),
                balance_due=Decimal("120.00") if i % 3 else Decimal("0"))
        for i in range(max(0, wanted - have))
    ], batch_size=1000)

big, small = Organization.objects.order_by("pk")[:2]
with_invoices(big, {invoices}, 50_000_000)
with connection.cursor() as cursor:  # as the sync does after a bulk load
    cursor.execute("ANALYZE billing_invoice")
result = {{}}
for label, org in (("big", big), ("small", small)):
    user, _ = User.objects.get_or_create(email=f"bench-{{label}}@client.local", defaults={{"role": "client_contact"}})
    user.organization = org
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "portal.backends.PortalBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    invoice = Invoice.objects.filter(organization=org).order_by("-invoice_date").first()
    result[label] = {{"session": session.session_key, "invoice": invoice.pk,
                     "invoices": Invoice.objects.filter(organization=org).count()}}
print(json.dumps(result))
"""

QUERIES = """
import json
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from accounts.models import User
from billing.models import Invoice
from portal import list_cache
out = {{}}
for label in ("small", "big"):
    user = User.objects.get(email=f"bench-{{label}}@client.local")
    web = Client()
    web.force_login(user)
    invoice = Invoice.objects.filter(organization=user.organization).order_by("-invoice_date").first()
    for page, url, cached in (("list", "/portal/invoices/", False), ("list, cached", "/portal/invoices/", True),
                              ("list, page 3", "/portal/invoices/?page=3", False),
                              ("invoice", f"/portal/invoices/{{invoice.pk}}/", False)):
        if cached:
            web.get(url, HTTP_HOST="127.0.0.1")
        else:
            list_cache.invalidate()
        with CaptureQueriesContext(connection) as queries:
            assert web.get(url, HTTP_HOST="127.0.0.1").status_code == 200
        out.setdefault(page, {{}})[label] = len(queries)
print(json.dumps(out))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _django(env: dict, code: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def _latencies(session: requests.Session, url: str, samples: int = SAMPLES) -> list[float]:
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        response = session.get(url, timeout=30, allow_redirects=False)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
    return timings


def _latencies_each(session: requests.Session, urls: list[str]) -> list[float]:
    timings = []
    for url in urls:
        timings += _latencies(session, url, samples=1)
    return timings


def _summary(timings: list[float]) -> dict:
    ordered = sorted(timings)
    return {"median_ms": statistics.median(ordered), "p95_ms": ordered[int(len(ordered) * 0.95) - 1]}


def bench_pages(env: dict) -> dict:
    env = {**env, "SECRET_KEY": "bench-" + "x" * 50}  # the sessions made here must be valid on the server
    setup = _django(env, SETUP.format(invoices=INVOICES))
    queries = _django(env, QUERIES.format())
    port = _free_port()
    web_env = dict(env)
    web_env.update(
        PORTAL_ENV="production",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        PORTAL_BASE_URL=f"http://127.0.0.1:{port}",
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
    )
    web_env.setdefault("FIELD_ENCRYPTION_KEYS", "Mn3Wq0pL2Yl5pY1lWq8bT2kq3zJ3d8mX1qk9m0fYwzs=")
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"], env=web_env, cwd=ROOT, check=True
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "connectbooster.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=web_env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{base}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = requests.Session()
        session.cookies.set("sessionid", setup["big"]["session"], domain="127.0.0.1")
        urls = {
            "trivial view (/healthz)": f"{base}/healthz",
            f"client invoice list ({setup['big']['invoices']:,} invoices)": f"{base}/portal/invoices/",
            "client invoice page": f"{base}/portal/invoices/{setup['big']['invoice']}/",
        }
        for url in urls.values():  # warm up
            for _ in range(10):
                session.get(url, timeout=30)
        latency = {name: _summary(_latencies(session, url)) for name, url in urls.items()}
        # Each of the list's pages once: every request renders (nothing cached for it yet).
        run = time.time_ns()  # not cached by an earlier run either
        pages = [f"{base}/portal/invoices/?page={n}&run={run}" for n in range(1, SAMPLES + 1)]
        latency["client invoice list, first view of each page"] = _summary(_latencies_each(session, pages))
    finally:
        server.terminate()
        server.wait(20)
    trivial = latency["trivial view (/healthz)"]["median_ms"]
    names = list(latency)
    return {
        "latency": latency,
        "list_vs_trivial": latency[names[1]]["median_ms"] / trivial,
        "page_vs_trivial": latency[names[2]]["median_ms"] / trivial,
        "list_first_view_vs_trivial": latency[names[3]]["median_ms"] / trivial,
        "queries": queries,
        "invoices": {label: data["invoices"] for label, data in setup.items()},
    }


def print_pages(result: dict) -> None:
    print("\nClient portal pages on gunicorn (2 workers), sequential requests:")
    for name, figures in result["latency"].items():
        print(f"  {name:45} median {figures['median_ms']:6.2f} ms   p95 {figures['p95_ms']:6.2f} ms")
    print(
        f"  list / trivial (median): {result['list_vs_trivial']:.2f}x (target <= 3x); "
        f"invoice page / trivial: {result['page_vs_trivial']:.2f}x; list not cached / trivial: "
        f"{result['list_first_view_vs_trivial']:.2f}x"
    )
    small, big = result["invoices"]["small"], result["invoices"]["big"]
    print(f"Database queries per page, first view unless cached ({small:,} invoices vs {big:,} invoices):")
    for page, counts in result["queries"].items():
        print(f"  {page:15} {counts['small']:3} vs {counts['big']:3}")


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")
    print(json.dumps(bench_pages(dict(os.environ)), indent=2))
