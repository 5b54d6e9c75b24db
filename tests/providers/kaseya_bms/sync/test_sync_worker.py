"""Syncs run by a real Celery worker process, on the test database, against the sandbox."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from billing.models import Invoice
from integrations.models import SyncRun, SyncStatus, SyncTrigger
from integrations.sync.service import sync_request, sync_watch
from organizations.models import Organization
from tests.factories import UserFactory
from tests.providers.kaseya_bms.sync.helpers import assert_matches_sandbox

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FINISHED = {SyncStatus.SUCCEEDED, SyncStatus.FAILED, SyncStatus.CANCELLED}


def wait_for_run(run: SyncRun, timeout: float = 90, on_poll=None) -> SyncRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in FINISHED:
            return run
        if on_poll:
            on_poll()
        time.sleep(0.25)
    raise AssertionError(f"sync run {run.pk} did not finish: {run.status} {run.progress}")


def test_worker_runs_a_full_sync_equal_to_the_sandbox(celery_worker, bms_integration, bms_sandbox):
    run = wait_for_run(sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW))
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert_matches_sandbox(bms_sandbox.control, bms_integration.data_source)


def test_worker_incremental_sync_after_changes_equals_the_sandbox(celery_worker, bms_integration, bms_sandbox):
    control = bms_sandbox.control
    assert wait_for_run(sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)).status == "succeeded"
    control.mutate("account.create", accountName="Northwind Veterinary")
    control.mutate("contact.update", id=control.records("contacts")[3]["id"], lastName="Renamed")
    control.mutate("invoice.pay", id=next(i for i in control.records("invoices") if i["paymentDue"] > 0)["id"])
    control.mutate("ticket.activity", id=control.records("tickets")[7]["id"])
    control.mutate("delete", entity="contracts", id=control.records("contracts")[0]["id"])
    run = wait_for_run(sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW))
    assert run.status == SyncStatus.SUCCEEDED and not run.full_reconcile
    reconcile = wait_for_run(sync_request(integration=bms_integration, trigger=SyncTrigger.RECONCILE))
    assert reconcile.status == SyncStatus.SUCCEEDED and reconcile.counts["contracts"]["deleted"] == 1
    assert_matches_sandbox(control, bms_integration.data_source)


@pytest.fixture(scope="module")
def larger_sandbox():
    """A tenant large enough for a sync of ~100 requests (2,000 invoices)."""
    from bms_sandbox.testing import SandboxServer

    with SandboxServer(accounts=100, invoices_per_account=20, tickets_per_account=8) as server:
        yield server


@pytest.fixture
def larger_integration(larger_sandbox, admin_user, settings):
    from tests.conftest import connect_sandbox

    larger_sandbox.control.reset()
    return connect_sandbox(larger_sandbox, settings, admin_user)


@pytest.mark.parametrize("seed", [1, 2])
def test_faults_and_token_expiry_do_not_change_the_result(celery_worker, larger_integration, larger_sandbox, seed):
    bms_integration, control = larger_integration, larger_sandbox.control
    control.set_faults(
        error_rate=0.10,
        rate_limit_rate=0.05,
        retry_after=1,
        success_false_rate=0.05,
        token_max_requests=50,
        fault_seed=seed,
    )
    run = wait_for_run(sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW), timeout=180)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    requests = control.request_counts()["by_endpoint"]
    control.set_faults()
    assert_matches_sandbox(control, bms_integration.data_source)
    # Tokens expired every 50 requests and were renewed mid-sync.
    assert sum(requests.values()) > 100
    assert requests.get("POST /v2/security/refreshtoken", 0) + requests.get("POST /v2/security/authenticate", 0) >= 3


INVOICE_LISTING = "GET /v2/finance/invoices/summary"


def test_hardening_14_a_worker_killed_mid_sync_resumes_at_the_page_after_its_checkpoint(
    celery_worker, worker_env, larger_integration, larger_sandbox, settings
):
    """2,000 invoices, 20 pages: killed at page 2 or later, the new worker asks for exactly the
    pages after the last one committed (a restart from page 1, or a skipped page, fails)."""
    from tests.conftest import CeleryWorker

    control = larger_sandbox.control
    last_page = 2000 // 100
    settings.SYNC_STALE_HEARTBEAT = timedelta(seconds=2)
    control.set_faults(latency_ms=40)  # slow enough to kill it part-way
    run = sync_request(integration=larger_integration, trigger=SyncTrigger.SYNC_NOW)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.checkpoint.get("step") == "invoices" and run.checkpoint.get("page", 0) >= 2:
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"the sync never reached the second page of invoices: {run.checkpoint}")
    celery_worker.kill()
    run.refresh_from_db()  # what the dead worker committed last
    assert run.status == SyncStatus.RUNNING
    assert run.checkpoint["step"] == "invoices"
    killed_at = run.checkpoint["page"]
    assert 2 <= killed_at < last_page
    assert Invoice.objects.count() == killed_at * 100

    control.set_faults()
    control.clear_requests()
    replacement = CeleryWorker(worker_env)
    replacement.start()
    try:
        time.sleep(3.5)  # the dead worker's lock expires (SYNC_LOCK_TTL_SECONDS=3)
        run = wait_for_run(run, timeout=120, on_poll=sync_watch)
    finally:
        replacement.stop()
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert_matches_sandbox(control, larger_integration.data_source)
    # Resumed at the page after the checkpoint, each later page asked once, none before it; the
    # invoice listing gives no total, so an empty page after the last full one ends it.
    pages = control.request_pages()
    assert pages[INVOICE_LISTING] == list(range(killed_at + 1, last_page + 2))
    assert "GET /v2/crm/accounts/summary" not in pages  # the steps done before are not walked again


def test_hardening_6_a_worker_killed_three_times_at_the_same_point_stops_the_run(
    celery_worker, worker_env, bms_integration, bms_sandbox, settings
):
    """SIGKILL, as the kernel's OOM killer sends it: no handler runs. Three starts at the same
    checkpoint, then the run stops with the reason instead of being delivered forever."""
    from tests.conftest import CeleryWorker

    settings.SYNC_STALE_HEARTBEAT = timedelta(seconds=2)
    bms_sandbox.control.set_faults(latency_ms=3000)  # no page is committed before the kill
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    worker, replacements = celery_worker, []
    try:
        for attempt in (1, 2, 3):
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                run.refresh_from_db()
                if run.status == SyncStatus.RUNNING and run.checkpoint.get("starts", {}).get("count") == attempt:
                    break
                sync_watch()  # re-enqueues the run once its worker is gone
                time.sleep(0.1)
            else:
                raise AssertionError(f"start {attempt} never came: {run.status} {run.checkpoint}")
            assert run.checkpoint.get("commits", 0) == 0
            worker.kill()
            worker = CeleryWorker(worker_env)
            replacements.append(worker)
            worker.start()
        run = wait_for_run(run, timeout=90, on_poll=sync_watch)
    finally:
        for replacement in replacements:
            replacement.stop()
    assert run.status == SyncStatus.FAILED
    assert "started 3 times in a row at the same point" in run.error
    assert run.checkpoint["starts"]["count"] == 4


def test_twenty_simultaneous_sync_now_clicks_make_one_run(bms_integration, admin_user):
    url = reverse("integrations:sync", args=["kaseya-bms"])
    statuses, barrier = [], threading.Barrier(20)

    def click():
        web = Client()
        web.force_login(admin_user)
        barrier.wait()
        statuses.append(web.post(url, follow=True))
        connections.close_all()

    threads = [threading.Thread(target=click) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SyncRun.objects.count() == 1
    pages = [response.content.decode() for response in statuses]
    assert sum("A sync is already running." in page for page in pages) == 19
    assert sum("A sync is already running." not in page for page in pages) == 1  # the one that started it


def test_deleted_integration_keeps_records_and_relinks_them(bms_integration, bms_sandbox, admin_user, sandbox_settings):
    from integrations.registry import get_provider
    from integrations.services import integration_delete, integration_save_settings, integration_test_connection
    from tests.integrations.sync.helpers import run_sync

    run_sync(bms_integration)
    source = bms_integration.data_source
    orgs = Organization.objects.count()
    integration_delete(integration=bms_integration, actor=admin_user)
    source.refresh_from_db()
    assert source.is_removed
    assert Organization.objects.filter(source=source).count() == orgs == 25
    again = integration_save_settings(
        provider=get_provider("kaseya-bms"), actor=admin_user, cleaned_data=sandbox_settings
    )
    # Test Connection identifies the same tenant: its source, with every record, comes back.
    assert integration_test_connection(integration=again, actor=admin_user).passed
    again.refresh_from_db()
    assert again.data_source.pk == source.pk
    second = run_sync(again)
    assert second.status == SyncStatus.SUCCEEDED
    assert all(counts["created"] == 0 for counts in second.counts.values())
    assert Organization.objects.count() == orgs
    assert_matches_sandbox(bms_sandbox.control, source)


def test_staff_pages_show_the_synced_data(bms_integration, bms_sandbox):
    from tests.integrations.sync.helpers import run_sync

    run_sync(bms_integration)
    web = Client()
    web.force_login(UserFactory(role="billing_staff"))
    org = Organization.objects.order_by("name").first()
    listing = web.get(reverse("organizations:list"), {"q": org.name[:6]}).content.decode()
    assert org.name in listing
    detail = web.get(reverse("organizations:detail", args=[org.pk])).content.decode()
    assert org.contact_set.first().email in detail
    invoice = org.invoices.first()
    assert invoice.number in detail
    filtered = web.get(reverse("billing:invoices"), {"q": invoice.number, "organization": org.pk}).content.decode()
    assert invoice.number in filtered
    paid_only = web.get(reverse("billing:invoices"), {"state": "paid"}).context["object_list"]
    assert all(i.balance_due <= 0 for i in paid_only)
    assert web.get(reverse("integrations:sync-history")).status_code == 200
