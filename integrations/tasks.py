"""Thin Celery wrappers: load by id, call the service."""

from celery import shared_task

from integrations.sync import service


@shared_task(name="integrations.sync_run", acks_late=True, reject_on_worker_lost=True)
def sync_run_task(run_id: int) -> str:
    """Idempotent: a redelivered or duplicated message resumes from the checkpoint or
    finds the run owned by another worker and returns.

    ``acks_late`` + ``reject_on_worker_lost``: a worker that dies mid-run (out of memory, the
    hard time limit) leaves the message to be delivered again. The service counts each start
    on the run and stops one started three times in a row without progress, with the reason,
    so such a message is not redelivered forever."""
    outcome = service.sync_run_execute(run_id)
    if outcome.resume_in is not None:
        sync_run_task.apply_async((run_id,), countdown=outcome.resume_in)
    return outcome.status


@shared_task(name="integrations.schedule_syncs")
def schedule_syncs_task() -> int:
    return len(service.sync_schedule_due())


@shared_task(name="integrations.watch_syncs")
def watch_syncs_task() -> dict:
    return service.sync_watch()
