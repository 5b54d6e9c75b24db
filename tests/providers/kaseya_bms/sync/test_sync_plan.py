"""The BMS plan's shape: its steps keep their checkpoint names, and invoices that left the
open listings are clustered into as few requests as their creation dates allow."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice
from integrations.models import DataSource, SyncRun, SyncStatus, SyncTrigger
from integrations.sync.engine import SyncEngine
from providers.kaseya_bms.sync_plan import CLOSED_INVOICE_BATCH, PLAN, closed_invoice_units

pytestmark = pytest.mark.django_db

LISTINGS = ["accounts", "contacts", "contracts", "tickets", "invoices"]


@pytest.fixture
def source():
    return DataSource.objects.create(provider_key="kaseya-bms", tenant_key="host|tenant", display_name="Tenant")


def _invoice(source, bms_id, *, status_bms_id=None, balance_due=Decimal("0"), created=None):
    return Invoice.objects.create(
        source=source,
        bms_id=bms_id,
        number=str(bms_id),
        sync_hash="x",
        synced_at=timezone.now(),
        status_bms_id=status_bms_id,
        balance_due=balance_due,
        bms_created_on=created,
    )


def _steps(source, *, since=None, full_reconcile=False) -> list[str]:
    now = timezone.now()
    run = SyncRun.objects.create(
        source=source,
        trigger=SyncTrigger.SYNC_NOW,
        full_reconcile=full_reconcile,
        status=SyncStatus.RUNNING,
        worker_token="w",
        since=since,
        high_water_mark=now,
    )
    return [step.name for step in SyncEngine(run, client=None, plan=PLAN, worker_token="w").steps()]


def test_a_full_reconcile_lists_every_entity_then_checks_deletions(source):
    assert _steps(source, full_reconcile=True) == [*LISTINGS, "reconcile"]


def test_an_incremental_run_relists_each_open_status_then_fetches_the_invoices_that_left(source):
    _invoice(source, 1, status_bms_id=5, balance_due=Decimal("10"))
    _invoice(source, 2, status_bms_id=2, balance_due=Decimal("10"))
    _invoice(source, 3, status_bms_id=9)  # paid: its status is not re-listed
    steps = _steps(source, since=timezone.now() - timedelta(hours=1))
    assert steps == [*LISTINGS, "open_invoices:2", "open_invoices:5", "closed_invoices"]


def test_closed_invoices_created_close_together_are_listed_by_creation_date(source):
    start = timezone.now() - timedelta(days=30)
    stale = [(n, start + timedelta(hours=n)) for n in range(1, 13)]
    for bms_id, created in stale:
        _invoice(source, bms_id, created=created)
    units = list(closed_invoice_units(stale, source_id=source.pk, page_size=100))
    assert units == [([n for n, _ in stale], (stale[0][1], stale[-1][1]))]  # one listing, not 12 requests


def test_closed_invoices_far_apart_or_undated_are_fetched_by_id(source):
    start = timezone.now() - timedelta(days=300)
    stale = [(1, start), (2, start + timedelta(days=30)), (3, None)]
    assert list(closed_invoice_units(stale, source_id=source.pk, page_size=100)) == [
        ([1], None),
        ([2], None),
        ([3], None),
    ]
    # Close together, but their window would take more pages than they are invoices.
    close = [(n, start + timedelta(minutes=n)) for n in range(10, 10 + CLOSED_INVOICE_BATCH + 1)]
    for bms_id, created in close:
        _invoice(source, bms_id, created=created)
    batches = list(closed_invoice_units(close, source_id=source.pk, page_size=1))
    assert [(len(ids), window) for ids, window in batches] == [(CLOSED_INVOICE_BATCH, None), (1, None)]
