"""The BMS hourly request budget is shared by every worker, and a spent one makes the sync wait."""

import threading

import pytest

from integrations.models import SyncRun, SyncStatus, SyncTrigger
from integrations.sync.service import sync_request, sync_run_execute
from providers.kaseya_bms.budget import RedisHourlyBudget
from providers.kaseya_bms.exceptions import BmsRateLimited


class FakeClock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_the_hourly_budget_is_shared_by_every_worker():
    clock = FakeClock(1_000_000 * 3600 + 10)
    worker_a = RedisHourlyBudget(source_id=7, limit_per_hour=5, clock=clock)
    worker_b = RedisHourlyBudget(source_id=7, limit_per_hour=5, clock=clock)
    for budget in (worker_a, worker_b, worker_a, worker_b, worker_a):
        budget.acquire("GET /v2/crm/accounts/summary")
    with pytest.raises(BmsRateLimited) as spent:
        worker_b.acquire("GET /v2/crm/accounts/summary")
    assert spent.value.retry_after == pytest.approx(3590)
    # Another endpoint has its own budget; the next hour starts afresh.
    worker_b.acquire("GET /v2/crm/contacts/summary")
    clock.now += 3600
    worker_a.acquire("GET /v2/crm/accounts/summary")
    assert worker_b.used("GET /v2/crm/accounts/summary") == 1


def test_concurrent_budget_takers_never_exceed_the_limit():
    budget = RedisHourlyBudget(source_id=8, limit_per_hour=50)
    granted = []

    def take():
        for _ in range(20):
            try:
                budget.acquire("GET /v2/finance/invoices/summary")
                granted.append(1)
            except BmsRateLimited:
                pass

    threads = [threading.Thread(target=take) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(granted) == 50


@pytest.mark.django_db(transaction=True)
def test_a_spent_budget_makes_the_sync_wait_and_say_so(bms_integration, settings, admin_client):
    settings.BMS_HOURLY_REQUEST_LIMIT = 2
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    outcome = sync_run_execute(run.pk)
    run.refresh_from_db()
    assert outcome.status == "waiting" and 0 < outcome.resume_in <= 3600
    assert run.status == SyncStatus.WAITING
    assert "request budget is spent" in run.progress["message"]
    card = admin_client.get("/integrations/kaseya-bms/card/").content.decode()
    assert "Waiting" in card and "request budget is spent" in card
    # Sync Now while it waits starts nothing.
    page = admin_client.post("/integrations/kaseya-bms/sync/", follow=True).content.decode()
    assert "A sync is already running." in page
    assert SyncRun.objects.count() == 1
