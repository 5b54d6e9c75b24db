"""Incremental runs re-list open invoices by status, two pages at a time, and note what they
saw instead of writing to every unchanged invoice. On a tenant whose open listings span
several pages."""

from dataclasses import replace

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from billing.models import Invoice
from bms_sandbox.testing import SandboxServer
from integrations.models import SyncSeenPage, SyncStatus
from integrations.sync.engine import SyncEngine
from providers.kaseya_bms import sync_plan
from tests.conftest import connect_sandbox
from tests.integrations.sync.helpers import run_sync
from tests.providers.kaseya_bms.sync.helpers import assert_matches_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

LISTING = "GET /v2/finance/invoices/summary"
PAGE = 10  # small pages, so the open listings of this small tenant span several


@pytest.fixture(autouse=True)
def _small_listing_pages(monkeypatch):
    monkeypatch.setattr(sync_plan, "PLAN", replace(sync_plan.PLAN, page_size=PAGE))


@pytest.fixture(scope="module")
def large_sandbox():
    spec = {
        "accounts": 10,
        "invoices_per_account": 70,
        "lines_per_invoice": 1,
        "contacts_per_account": 1,
        "contracts_per_account": 1,
        "tickets_per_account": 1,
    }
    with SandboxServer(**spec) as server:
        yield server


@pytest.fixture
def synced(large_sandbox, settings, admin_user):
    """An integration on the large sandbox after its first (full) sync."""
    large_sandbox.control.reset()
    integration = _connect(large_sandbox, settings, admin_user)
    assert run_sync(integration).status == SyncStatus.SUCCEEDED
    return integration


def _connect(sandbox, settings, admin_user):
    """The Kaseya BMS integration, set up for this sandbox."""
    return connect_sandbox(sandbox, settings, admin_user)


DRAFT = 1  # bms_sandbox.constants.INV_DRAFT: cannot be paid


def _open_statuses() -> set[int]:
    open_invoices = Invoice.objects.filter(balance_due__gt=0, deleted_at__isnull=True)
    return set(open_invoices.values_list("status_bms_id", flat=True))


def _longest_payable_listing(control) -> int:
    return max(_open_statuses() - {DRAFT}, key=lambda s: _listing_pages(control, s))


def _listing_pages(control, status_id: int) -> int:
    """Pages one walk of a status listing needs: until a short (or empty) page."""
    return sum(1 for r in control.records("invoices") if r["statusId"] == status_id) // PAGE + 1


def _recent_pages(control, run) -> int:
    from datetime import timedelta

    from django.conf import settings

    created_from = min(run.since, run.high_water_mark - timedelta(days=settings.SYNC_INVOICE_RECENT_DAYS))
    from providers.kaseya_bms.types import parse_datetime

    return sum(1 for r in control.records("invoices") if parse_datetime(r["createdOn"]) >= created_from) // PAGE + 1


def test_a_run_with_no_change_makes_exactly_the_listing_requests_and_writes_no_invoice(synced, large_sandbox):
    control = large_sandbox.control
    statuses = _open_statuses()
    assert max(_listing_pages(control, s) for s in statuses) >= 3  # the two-at-a-time path is taken
    before = dict(Invoice.objects.values_list("bms_id", "last_seen_run"))
    run = run_sync(synced)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    expected = _recent_pages(control, run) + sum(_listing_pages(control, s) for s in statuses)
    assert run.requests[LISTING] == expected
    # The installation's clients share one token (the full sync signed in): no sign-in at all.
    assert "POST /v2/security/authenticate" not in run.requests
    assert run.counts["invoices"]["created"] == run.counts["invoices"]["updated"] == 0
    assert dict(Invoice.objects.values_list("bms_id", "last_seen_run")) == before  # no invoice row written
    assert_matches_sandbox(control, synced.data_source)


def test_invoices_paid_since_shrink_the_listing_and_are_fetched_back(synced, large_sandbox):
    control = large_sandbox.control
    status = _longest_payable_listing(control)
    listed = sorted(r["id"] for r in control.records("invoices") if r["statusId"] == status and r["paymentDue"] > 0)
    paid = listed[: PAGE + 5]  # the listing loses more than a page
    for invoice_id in paid:
        control.mutate("invoice.pay", id=invoice_id)
    run = run_sync(synced)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert Invoice.objects.filter(bms_id__in=paid, balance_due=0).count() == len(paid)
    assert_matches_sandbox(control, synced.data_source)
    assert run.counts["invoices"]["updated"] >= len(paid)


def test_a_listing_longer_than_what_is_stored_is_walked_to_its_end(synced, large_sandbox):
    status = _longest_payable_listing(large_sandbox.control)
    # The portal lost track of some (as if they were new to it): fewer pages are expected.
    stored = Invoice.objects.filter(status_bms_id=status).order_by("bms_id")
    lost = list(stored.values_list("pk", flat=True)[: PAGE + 5])
    Invoice.objects.filter(pk__in=lost).delete()
    run = run_sync(synced)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.counts["invoices"]["created"] >= len(lost)
    assert_matches_sandbox(large_sandbox.control, synced.data_source)


def test_a_run_stopped_mid_listing_resumes_with_what_it_saw(synced, large_sandbox, monkeypatch):
    """Stopped after a few pages of an open listing (the task's soft time limit), the run
    continues from its checkpoint: the pages seen before the stop are not fetched again,
    and no open invoice is taken for paid."""
    control = large_sandbox.control
    status = _longest_payable_listing(control)
    gone = sorted(r["id"] for r in control.records("invoices") if r["statusId"] == status and r["paymentDue"] > 0)[-3:]
    for invoice_id in gone:
        control.mutate("invoice.pay", id=invoice_id)
    written = []
    original = SyncEngine.write_items

    def stop_once_after_two_pages(self, step, entity, page_number, *args, **kwargs):
        if entity.name != "invoices":
            return original(self, step, entity, page_number, *args, **kwargs)
        if step.name == f"open_invoices:{status}" and len(written) == 2:
            written.append("stopped")
            raise SoftTimeLimitExceeded()
        written.append(page_number)
        return original(self, step, entity, page_number, *args, **kwargs)

    monkeypatch.setattr(SyncEngine, "write_items", stop_once_after_two_pages)
    control.clear_requests()
    run = run_sync(synced)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert "stopped" in written
    assert_matches_sandbox(control, synced.data_source)
    # Re-read at most the page in hand when it stopped (and the one fetched alongside it).
    minimum = _recent_pages(control, run) + sum(_listing_pages(control, s) for s in _open_statuses() | {status})
    assert run.requests[LISTING] <= minimum + 2 + len(gone)
    assert not SyncSeenPage.objects.exclude(run=run).exists()


def test_faults_and_expiring_tokens_while_two_clients_list_do_not_change_the_result(synced, large_sandbox):
    control = large_sandbox.control
    status = _longest_payable_listing(control)
    for invoice_id in sorted(r["id"] for r in control.records("invoices") if r["statusId"] == status)[:5]:
        if next(r for r in control.records("invoices") if r["id"] == invoice_id)["paymentDue"] > 0:
            control.mutate("invoice.pay", id=invoice_id)
    control.set_faults(error_rate=0.08, success_false_rate=0.05, token_max_requests=15, fault_seed=3)
    try:
        run = run_sync(synced)
        served = control.request_counts()["by_endpoint"]
    finally:
        control.set_faults()
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert_matches_sandbox(control, synced.data_source)
    # Tokens ran out every 15 requests, for both listing clients, and were renewed.
    assert served.get("POST /v2/security/refreshtoken", 0) + served.get("POST /v2/security/authenticate", 0) >= 3


def test_a_server_serving_smaller_pages_than_asked_is_walked_to_its_total(settings, admin_user):
    """A server that silently serves smaller pages than asked numbers its pages by its own
    size: a re-listing with a total (contracts) goes on until the total, not the first
    'short' page. (Invoice listings carry no total: they rely on BMS serving the page size
    asked, which the sync keeps at BMS's largest; this tenant has none.)"""
    with SandboxServer(accounts=8, contracts_per_account=4, invoices_per_account=0, max_page_size=5) as sandbox:
        integration = _connect(sandbox, settings, admin_user)
        assert run_sync(integration).status == SyncStatus.SUCCEEDED
        last = max(r["id"] for r in sandbox.control.records("contracts"))
        sandbox.control.mutate("contract.update", id=last, contractName="Renamed at the end of the listing")
        run = run_sync(integration)
        assert run.status == SyncStatus.SUCCEEDED, run.error
        assert run.counts["contracts"]["updated"] == 1
        assert_matches_sandbox(sandbox.control, integration.data_source)
