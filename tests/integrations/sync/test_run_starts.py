"""Hardening 6 (the run part): a run whose worker dies at the same point again and again
stops with the reason instead of being delivered forever.

A worker killed by the kernel's OOM killer or at Celery's hard time limit runs no handler:
here the engine raises a BaseException nothing in the service catches, which leaves the run
exactly as a kill does (running, its checkpoint as last committed). The real worker, killed
with SIGKILL, is in tests/providers/kaseya_bms/sync/test_sync_worker.py."""

from __future__ import annotations

import pytest

from integrations.base import IntegrationRateLimited
from integrations.models import SyncAlert, SyncAlertKind, SyncRun, SyncStatus, SyncTrigger
from integrations.sync import service
from integrations.sync.engine import SyncEngine
from integrations.sync.service import MAX_STARTS_WITHOUT_PROGRESS, sync_request, sync_run_execute

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """What a SIGKILL looks like from inside the process: nothing after it runs."""


def _killed_before_any_commit(self):
    raise Killed()


def _killed_after_a_commit(self):
    checkpoint = self.run.checkpoint
    self._save(checkpoint={**checkpoint, "commits": checkpoint.get("commits", 0) + 1})
    raise Killed()


def _start(run: SyncRun) -> SyncRun:
    with pytest.raises(Killed):
        sync_run_execute(run.pk)
    run.refresh_from_db()
    return run


def test_hardening_6_a_run_killed_three_times_at_the_same_point_stops_with_the_reason(bms_integration, monkeypatch):
    monkeypatch.setattr(SyncEngine, "execute", _killed_before_any_commit)
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    for attempt in range(1, MAX_STARTS_WITHOUT_PROGRESS + 1):
        run = _start(run)
        assert run.status == SyncStatus.RUNNING  # as a kill leaves it: delivered again later
        assert run.checkpoint["starts"] == {"at": 0, "count": attempt}

    outcome = sync_run_execute(run.pk)  # the fourth delivery
    run.refresh_from_db()
    assert outcome.status == "failed" and outcome.resume_in is None
    assert run.status == SyncStatus.FAILED
    assert f"started {MAX_STARTS_WITHOUT_PROGRESS} times in a row at the same point" in run.error
    assert "out of memory" in run.error
    alert = SyncAlert.objects.get(kind=SyncAlertKind.SYNC_FAILED)
    assert alert.reason == run.error
    bms_integration.refresh_from_db()
    assert bms_integration.status == "error"
    # A later delivery of the same message finds nothing to do.
    assert sync_run_execute(run.pk).status == "not-active"


def test_hardening_6_a_run_that_progresses_between_kills_goes_on(bms_integration, monkeypatch):
    monkeypatch.setattr(SyncEngine, "execute", _killed_after_a_commit)
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    for commits in range(MAX_STARTS_WITHOUT_PROGRESS + 3):
        run = _start(run)
        assert run.status == SyncStatus.RUNNING
        assert run.checkpoint["starts"] == {"at": commits, "count": 1}


def test_hardening_6_waiting_for_the_request_budget_is_not_a_failed_start(bms_integration, monkeypatch):
    def rate_limited(self):
        exc = IntegrationRateLimited("budget spent")
        exc.retry_after = 1.0
        raise exc

    monkeypatch.setattr(SyncEngine, "execute", rate_limited)
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    for _ in range(MAX_STARTS_WITHOUT_PROGRESS + 2):
        assert sync_run_execute(run.pk).status == "waiting"
    run.refresh_from_db()
    assert run.status == SyncStatus.WAITING
    assert "starts" not in run.checkpoint


def test_hardening_6_continuing_after_the_soft_time_limit_without_progress_counts(bms_integration, monkeypatch):
    """A page that takes longer than the soft time limit would otherwise continue forever."""
    from celery.exceptions import SoftTimeLimitExceeded

    def over_the_soft_limit(self):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(SyncEngine, "execute", over_the_soft_limit)
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    outcomes = [sync_run_execute(run.pk).status for _ in range(MAX_STARTS_WITHOUT_PROGRESS + 1)]
    assert outcomes == ["continuing"] * MAX_STARTS_WITHOUT_PROGRESS + ["failed"]
    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED and "same point" in run.error


def test_hardening_6_the_reason_names_where_the_run_stopped(bms_integration):
    run = sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    run.checkpoint = {"step": "invoices", "page": 7}
    run.progress = {"entity": "Invoices"}
    assert "(Invoices, after page 7)" in service._stuck_reason(run)
