"""Celery is configured for idempotent, crash-safe syncs; locks are shared; runs are single-flight
and watched over."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from connectbooster.celery import app
from integrations.models import DataSource, SyncAlert, SyncTrigger
from integrations.sync.locks import SyncLock
from integrations.sync.service import sync_request, sync_run_execute, sync_watch
from integrations.tasks import sync_run_task


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


def test_only_one_holder_of_a_sync_lock():
    first, second = SyncLock(42), SyncLock(42)
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()


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
