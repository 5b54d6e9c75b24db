"""Celery is configured for idempotent, crash-safe syncs; budgets and locks are shared."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connectbooster.celery import app
from integrations.models import DataSource, SyncAlert, SyncRun, SyncStatus, SyncTrigger
from integrations.sync.budget import RedisHourlyBudget
from integrations.sync.locks import SyncLock
from integrations.sync.service import sync_request, sync_run_execute, sync_watch
from integrations.tasks import sync_run_task
from providers.kaseya_bms.exceptions import BmsRateLimited


def test_celery_settings_fit_idempotent_syncs():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert conf.task_soft_time_limit < conf.task_time_limit < visibility
    assert sync_run_task.acks_late is True and sync_run_task.reject_on_worker_lost is True
    # A countdown (budget wait, retry) never reaches the visibility timeout.
    from integrations.sync.service import MAX_COUNTDOWN_SECONDS

    assert visibility > MAX_COUNTDOWN_SECONDS
    assert settings.SYNC_LOCK_TTL.total_seconds() * 1000 > 0
    assert conf.beat_schedule["schedule-syncs"]["schedule"] == settings.SYNC_INTERVAL


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


def test_only_one_holder_of_a_sync_lock():
    first, second = SyncLock(42), SyncLock(42)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


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


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_run_do_not_both_sync(bms_integration):
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    results = []
    threads = [threading.Thread(target=lambda: results.append(sync_run_execute(run.pk).status)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) in (["locked", "succeeded"], ["not-active", "succeeded"])


@pytest.mark.django_db
def test_sync_not_running_for_48_hours_raises_one_alert(bms_integration):
    source = DataSource.objects.get()
    source.last_success_at = timezone.now() - timedelta(hours=49)
    source.save()
    assert sync_watch()["alerts"] == 1
    assert sync_watch()["alerts"] == 0
    alert = SyncAlert.objects.get()
    assert alert.kind == "sync_not_running" and "No sync of" in alert.reason
