"""Run a sync to its end in this process."""

from __future__ import annotations

from integrations.models import SyncRun, SyncTrigger
from integrations.sync.service import sync_request, sync_run_execute


def run_sync(integration, trigger=SyncTrigger.SYNC_NOW, **kwargs) -> SyncRun:
    """Request a run and execute it in this process, through any waits, to its end."""
    run = sync_request(integration=integration, trigger=trigger, **kwargs)
    outcome = sync_run_execute(run.pk)
    while outcome.resume_in is not None:
        outcome = sync_run_execute(run.pk)
    run.refresh_from_db()
    return run
