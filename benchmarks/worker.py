"""One measured job in its own process, so its peak RSS is its own.

    python -m benchmarks.worker baseline URL TENANT USER PASSWORD
    python -m benchmarks.worker sync [PROVIDER_KEY]   (default kaseya-bms)

Prints one JSON line with the figures.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline(url: str, tenant: str, username: str, password: str) -> dict:
    """The same client, downloading every page the full sync needs and discarding it."""
    from providers.kaseya_bms.client import BmsClient

    client = BmsClient(url, tenant, username, password)
    started = time.perf_counter()
    records = 0
    for pages in (
        client.iter_account_pages(),
        client.iter_contact_pages(),
        client.iter_contract_pages(),
        client.iter_ticket_pages(),
    ):
        for page in pages:
            records += len(page.items)
    for page in client.iter_invoice_pages():
        records += len(page.items)
        for line_page in client.iter_invoice_line_item_pages([invoice.id for invoice in page.items]):
            records += len(line_page.items)
    return {
        "seconds": time.perf_counter() - started,
        "records": records,
        "requests": dict(client.request_counts),
        "peak_rss_mb": _peak_rss_mb(),
    }


def sync(provider_key: str = "kaseya-bms") -> dict:
    import django

    django.setup()
    from integrations.models import Integration, SyncTrigger
    from integrations.sync.service import sync_request, sync_run_execute

    integration = Integration.objects.get(provider_key=provider_key)
    started = time.perf_counter()
    run = sync_request(integration=integration, trigger=SyncTrigger.SYNC_NOW)
    outcome = sync_run_execute(run.pk)
    run.refresh_from_db()
    seconds = time.perf_counter() - started
    if outcome.status != "succeeded":
        raise SystemExit(f"sync {outcome.status}: {run.error} {run.progress}")
    records = sum(c["created"] + c["updated"] + c["unchanged"] for c in run.counts.values())
    return {
        "seconds": seconds,
        "records": records,
        "counts": run.counts,
        "requests": run.requests,
        "full": run.full_reconcile,
        "peak_rss_mb": _peak_rss_mb(),
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")
    job, *args = sys.argv[1:]
    result = baseline(*args) if job == "baseline" else sync(*args)
    print(json.dumps(result))
