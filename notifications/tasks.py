"""Thin Celery wrappers: load by id, run one attempt through the delivery's channel (the
``NOTIFICATIONS_CHANNELS`` table), and enqueue again when the attempt asks to.

Each channel's task states how its messages are acknowledged, because that follows from
whether the channel can find what an earlier attempt did.
"""

from celery import Task, shared_task

from notifications.delivery import deliveries_requeue_lost, delivery_attempt
from notifications.events import autopay_summary_notify, invoices_past_due_notify, sync_alerts_catch_up
from notifications.models import Channel


def _attempt(task: Task, delivery_id: int) -> str:
    outcome = delivery_attempt(delivery_id)
    if outcome.retry_in is not None:
        task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.deliver_ticket", acks_late=True, reject_on_worker_lost=True)
def deliver_ticket_task(delivery_id: int) -> str:
    """Idempotent: an attempt after the first searches BMS for the ticket's key and adopts it,
    so a redelivered message (worker killed mid-task) never creates a second ticket."""
    return _attempt(deliver_ticket_task, delivery_id)


# E-mail has no idempotency key: acknowledged early, so a message is not redelivered blindly.
# A worker lost mid-send leaves the delivery leased; the sweep takes it over when the lease ends.
@shared_task(name="notifications.deliver_email", acks_late=False, reject_on_worker_lost=False)
def deliver_email_task(delivery_id: int) -> str:
    return _attempt(deliver_email_task, delivery_id)


# The task each channel's deliveries are queued on.
DELIVERY_TASKS = {Channel.EMAIL: deliver_email_task, Channel.TICKET: deliver_ticket_task}


@shared_task(name="notifications.sweep")
def sweep_task() -> dict:
    """Every minute: deliveries whose task was lost, and sync alerts not yet notified."""
    return {"requeued": deliveries_requeue_lost(), "alerts": sync_alerts_catch_up()}


@shared_task(name="notifications.invoices_past_due")
def invoices_past_due_task() -> int:
    return len(invoices_past_due_notify())


@shared_task(name="notifications.autopay_summary")
def autopay_summary_task() -> bool:
    """Daily: the internal Autopay Summary (and Autopay Changed for rules paused since)."""
    return autopay_summary_notify() is not None
