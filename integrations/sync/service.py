"""Sync use cases: request a run (single flight), execute it, watch over running ones.

Invariants:
- One active run per source (the database's constraint); one worker runs it at a time (the
  lock), and only that worker writes to it (the token, see the engine).
- Every start of a run is counted on the run before any work (``checkpoint["starts"]``). A
  worker that dies mid-run (out of memory, killed at the hard time limit) runs no handler:
  its message is delivered again, or the watcher re-enqueues the run, and it resumes from
  its checkpoint. Started ``MAX_STARTS_WITHOUT_PROGRESS`` times in a row at the same
  checkpoint without an attempt ending normally, the run stops with the reason instead of
  dying the same way forever. Waits for the request budget and transient retries end their
  attempt normally and reset the count; a run continued after the soft time limit does not.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from integrations.base import Activity, IntegrationError, IntegrationRateLimited
from integrations.models import (
    ACTIVE_SYNC_STATUSES,
    DataSource,
    Integration,
    IntegrationStatus,
    SyncAlert,
    SyncAlertKind,
    SyncRun,
    SyncSeenPage,
    SyncStatus,
    SyncTrigger,
)
from integrations.registry import installation_of
from integrations.secrets import SecretUnreadable
from integrations.signals import sync_succeeded
from integrations.sync.engine import LostOwnership
from integrations.sync.locks import SyncLock

logger = logging.getLogger(__name__)

# Longest wait before a re-enqueued run resumes: below the broker's visibility timeout,
# so a countdown never makes Redis redeliver the message while it waits.
MAX_COUNTDOWN_SECONDS = 3500
# Consecutive starts at one checkpoint, none ending normally, after which a run stops.
MAX_STARTS_WITHOUT_PROGRESS = 3


class SyncRefused(Exception):
    """A sync cannot be queued now; the message says why."""


class SyncAlreadyRunning(SyncRefused):
    def __init__(self):
        super().__init__(_("A sync is already running."))


class SyncNeedsTest(SyncRefused):
    """The tenant the settings reach is not confirmed: Test Connection must identify it first."""

    def __init__(self):
        super().__init__(
            _(
                "The settings changed since the last Test Connection: run Test Connection to confirm which tenant "
                "they reach, then sync. The synced data stays as it is until then."
            )
        )


@dataclass(frozen=True)
class SyncOutcome:
    status: str
    resume_in: float | None = None  # seconds; set when the run should be re-enqueued


def sync_request(
    *, integration: Integration, trigger: str, actor: User | None = None, full_reconcile: bool = False
) -> SyncRun:
    """Queue a run, or raise SyncAlreadyRunning (the database allows one active run per source)
    or SyncNeedsTest (no data moves before Test Connection has identified the tenant)."""
    source = DataSource.objects.filter(integration=integration).first()
    if source is None or not integration.tenant_confirmed:
        raise SyncNeedsTest()
    if trigger == SyncTrigger.RECONCILE or source.last_success_at is None:
        full_reconcile = True
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                source=source, integration=integration, trigger=trigger, full_reconcile=full_reconcile
            )
            if actor is not None:
                audit_record(
                    actor=actor,
                    action="sync.requested",
                    target=integration.provider.name,
                    summary=f"Started a sync ({run.get_trigger_display()})",
                )
            transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        raise SyncAlreadyRunning() from None
    return run


def _enqueue(run_id: int, countdown: float | None = None) -> None:
    from integrations.tasks import sync_run_task

    sync_run_task.apply_async((run_id,), countdown=countdown)


def sync_cancel_active(*, source: DataSource) -> int:
    """Stop queued and running runs (the integration is being deleted)."""
    return SyncRun.objects.filter(source=source, status__in=ACTIVE_SYNC_STATUSES).update(
        status=SyncStatus.CANCELLED, finished_at=timezone.now(), error="Cancelled: the integration was deleted."
    )


def sync_run_execute(run_id: int) -> SyncOutcome:
    run = SyncRun.objects.select_related("source", "integration").filter(pk=run_id).first()
    if run is None or not run.is_active:
        return SyncOutcome("not-active")
    if run.integration is None:
        SyncRun.objects.filter(pk=run_id).update(status=SyncStatus.CANCELLED, finished_at=timezone.now())
        return SyncOutcome("cancelled")
    lock = SyncLock(run.source_id, on_heartbeat=lambda: _beat(run_id, lock.token))
    if not lock.acquire():
        # Another worker is running this source; it owns the run.
        return SyncOutcome("locked")
    try:
        run = _claim(run_id, lock.token)
        if run is None:
            return SyncOutcome("not-active")
        if run.checkpoint["starts"]["count"] > MAX_STARTS_WITHOUT_PROGRESS:
            logger.error("Sync run %s: stopped after %s starts without progress", run.pk, MAX_STARTS_WITHOUT_PROGRESS)
            _finish_failed(run, lock.token, _stuck_reason(run))
            return SyncOutcome("failed")
        return _execute_claimed(run, lock.token)
    finally:
        lock.release()


def _note_start(checkpoint: dict) -> dict:
    """The checkpoint with this start counted: consecutive starts at the same point (the
    engine's commit count), since the last attempt that ended normally."""
    at = checkpoint.get("commits", 0)
    previous = checkpoint.get("starts") or {}
    count = previous.get("count", 0) + 1 if previous.get("at") == at else 1
    return {**checkpoint, "starts": {"at": at, "count": count}}


def _stuck_reason(run: SyncRun) -> str:
    where = run.progress.get("entity") or run.checkpoint.get("step") or "its first step"
    page = run.checkpoint.get("page")
    at = f"{where}, after page {page}" if page else where
    return (
        f"The sync stopped: it was started {MAX_STARTS_WITHOUT_PROGRESS} times in a row at the same point ({at}) "
        "and each time its worker stopped before saving any progress (out of memory, or killed at the time "
        "limit). Trying again would end the same way. The next sync starts a new run."
    )


def _beat(run_id: int, token: str) -> None:
    SyncRun.objects.filter(pk=run_id, worker_token=token, status=SyncStatus.RUNNING).update(heartbeat_at=timezone.now())


def _claim(run_id: int, token: str) -> SyncRun | None:
    now = timezone.now()
    with transaction.atomic():
        run = SyncRun.objects.select_for_update(of=("self",)).select_related("source", "integration").get(pk=run_id)
        if not run.is_active:
            return None
        if run.started_at is None:
            run.started_at = now
            run.high_water_mark = now
            if not run.full_reconcile and run.source.last_success_hwm:
                run.since = run.source.last_success_hwm - settings.SYNC_OVERLAP
        # Left by finished runs of this source (one run is active at a time): no longer needed.
        SyncSeenPage.objects.filter(run__source_id=run.source_id).exclude(run_id=run.pk).delete()
        run.checkpoint = _note_start(run.checkpoint)
        run.status = SyncStatus.RUNNING
        run.worker_token = token
        run.heartbeat_at = now
        run.progress = {**run.progress, "waiting_until": None}
        run.save()
        Integration.objects.filter(pk=run.integration_id).update(status=IntegrationStatus.SYNCING, status_detail="")
    return run


def _execute_claimed(run: SyncRun, token: str) -> SyncOutcome:
    installation = installation_of(run.integration)
    try:
        engine = installation.sync_engine(run, worker_token=token)
    except (SecretUnreadable, ValueError) as exc:
        _finish_failed(
            run, token, f"The {installation.name} settings cannot be used: {exc} Open Settings and save them again."
        )
        return SyncOutcome("failed")
    try:
        engine.execute()
    except LostOwnership:
        logger.info("Sync run %s: lost ownership, stopping", run.pk)
        return SyncOutcome("lost")
    except SoftTimeLimitExceeded:
        # Long runs continue in a fresh task from their checkpoint instead of failing; one that
        # made no progress before the limit counts towards MAX_STARTS_WITHOUT_PROGRESS.
        _pause(
            run,
            token,
            1,
            "The sync continues in a new task from its last checkpoint.",
            ended_normally=False,
            requests=engine.requests_sent(),
        )
        return SyncOutcome("continuing", resume_in=1)
    except IntegrationRateLimited as exc:
        wait = min(max(exc.retry_after, 1.0), MAX_COUNTDOWN_SECONDS)
        minutes = round(wait / 60) or 1
        _pause(
            run,
            token,
            wait,
            f"The {installation.name} request budget is spent; the sync resumes in about {minutes} min.",
            requests=engine.requests_sent(),
        )
        return SyncOutcome("waiting", resume_in=wait)
    except IntegrationError as exc:
        failures = run.checkpoint.get("transient_failures", 0) + 1
        if exc.transient and failures <= settings.SYNC_MAX_RETRIES:
            base = settings.SYNC_RETRY_BACKOFF.total_seconds()
            wait = random.uniform(0, min(base * 2**failures, 900))  # full jitter
            message = f"{installation.name} did not answer ({exc}); retrying in {round(wait)} s."
            _pause(run, token, wait, message, failures=failures, requests=engine.requests_sent())
            return SyncOutcome("retrying", resume_in=wait)
        _finish_failed(
            run, token, installation.error_message(exc, doing=Activity.SYNC), requests=engine.requests_sent()
        )
        return SyncOutcome("failed")
    except Exception as exc:
        logger.exception("Sync run %s crashed", run.pk)
        _finish_failed(
            run,
            token,
            f"The sync stopped on an internal error ({type(exc).__name__}); it will retry on schedule.",
            requests=engine.requests_sent(),
        )
        raise
    finally:
        engine.close_clients()
    if _finish_succeeded(run, token):
        run.refresh_from_db()
        sync_succeeded.send(sender=SyncRun, run=run)
    return SyncOutcome("succeeded")


def _pause(
    run: SyncRun,
    token: str,
    wait: float,
    message: str,
    failures: int | None = None,
    *,
    ended_normally: bool = True,
    requests: dict[str, int] | None = None,
) -> None:
    """Wait ``wait`` seconds; ``requests``: every request the run has sent so far (the next process
    counts on from them, so a run that retries its sign-in and fails counts every attempt)."""
    until = timezone.now() + timedelta(seconds=wait)
    checkpoint = dict(run.checkpoint)
    if failures is not None:
        checkpoint["transient_failures"] = failures
    if ended_normally:
        checkpoint.pop("starts", None)
    SyncRun.objects.filter(pk=run.pk, worker_token=token, status=SyncStatus.RUNNING).update(
        status=SyncStatus.WAITING,
        checkpoint=checkpoint,
        progress={**run.progress, "waiting_until": until.isoformat(), "message": message},
        heartbeat_at=timezone.now(),
        **({"requests": requests} if requests is not None else {}),
    )


@transaction.atomic
def _finish_succeeded(run: SyncRun, token: str) -> bool:
    now = timezone.now()
    updated = SyncRun.objects.filter(pk=run.pk, worker_token=token, status=SyncStatus.RUNNING).update(
        status=SyncStatus.SUCCEEDED, finished_at=now, progress={**run.progress, "eta_seconds": 0, "message": ""}
    )
    if not updated:
        return False
    source_fields = {"last_success_at": now, "last_success_hwm": run.high_water_mark}
    if run.full_reconcile:
        source_fields["last_reconcile_at"] = now
    DataSource.objects.filter(pk=run.source_id).update(**source_fields)
    Integration.objects.filter(pk=run.integration_id).update(status=IntegrationStatus.CONNECTED, status_detail="")
    return True


@transaction.atomic
def _finish_failed(run: SyncRun, token: str, reason: str, *, requests: dict[str, int] | None = None) -> None:
    """Fail the run; ``requests``: every request it sent (a run failing before its first commit,
    at the sign-in say, has recorded none yet)."""
    fields = {"requests": requests} if requests is not None else {}
    updated = SyncRun.objects.filter(pk=run.pk, worker_token=token).update(
        status=SyncStatus.FAILED, finished_at=timezone.now(), error=reason, **fields
    )
    if not updated:
        return
    Integration.objects.filter(pk=run.integration_id).update(status=IntegrationStatus.ERROR, status_detail=reason[:500])
    SyncAlert.objects.create(source_id=run.source_id, sync_run=run, kind=SyncAlertKind.SYNC_FAILED, reason=reason)


def sync_schedule_due() -> list[SyncRun]:
    """Beat: queue an incremental run for every connected integration (a full reconcile when due)."""
    runs = []
    now = timezone.now()
    confirmed = Integration.objects.select_related("data_source").filter(
        data_source__isnull=False, tenant_confirmed=True
    )
    for integration in confirmed:
        source = integration.data_source
        if source.last_success_at is None and not integration.last_test_passed:
            continue  # never worked: wait for Test Connection
        reconcile_due = (
            source.last_reconcile_at is None or now - source.last_reconcile_at >= settings.SYNC_RECONCILE_INTERVAL
        )
        try:
            runs.append(
                sync_request(integration=integration, trigger=SyncTrigger.SCHEDULE, full_reconcile=reconcile_due)
            )
        except SyncRefused:
            continue
    return runs


def sync_watch() -> dict[str, int]:
    """Beat, every minute: resume runs whose worker died or whose message was lost, and
    raise Sync Not Running for sources without a success for SYNC_STALE_AFTER."""
    now = timezone.now()
    stale_heartbeat = now - settings.SYNC_STALE_HEARTBEAT
    resumed = 0
    for run in SyncRun.objects.filter(status__in=ACTIVE_SYNC_STATUSES):
        waiting_until = run.progress.get("waiting_until")
        if run.status == SyncStatus.RUNNING:
            due = run.heartbeat_at is None or run.heartbeat_at < stale_heartbeat
        elif run.status == SyncStatus.WAITING and waiting_until:
            due = datetime.fromisoformat(waiting_until) + settings.SYNC_STALE_HEARTBEAT < now
        else:  # queued and never picked up
            due = run.created_at < now - timedelta(minutes=10)
        requeued_at = run.progress.get("requeued_at")
        if requeued_at and datetime.fromisoformat(requeued_at) > now - settings.SYNC_STALE_HEARTBEAT:
            continue  # re-enqueued recently: give that message time to be picked up
        if due:
            SyncRun.objects.filter(pk=run.pk).update(progress={**run.progress, "requeued_at": now.isoformat()})
            _enqueue(run.pk)
            resumed += 1
    alerts = 0
    cutoff = now - settings.SYNC_STALE_AFTER
    for source in DataSource.objects.filter(integration__isnull=False):
        last_ok = source.last_success_at or source.integration.created_at
        if last_ok >= cutoff:
            continue
        if SyncAlert.objects.filter(
            source=source, kind=SyncAlertKind.SYNC_NOT_RUNNING, created_at__gte=now - timedelta(hours=24)
        ).exists():
            continue
        when = f"since {source.last_success_at:%Y-%m-%d %H:%M} UTC" if source.last_success_at else "ever"
        SyncAlert.objects.create(
            source=source, kind=SyncAlertKind.SYNC_NOT_RUNNING, reason=f"No sync of {source} has succeeded {when}."
        )
        alerts += 1
    return {"resumed": resumed, "alerts": alerts}
