"""Thin Celery wrappers: load by id, call the service, re-enqueue when it asks to."""

from celery import shared_task

from notifications import services


@shared_task(name="notifications.deliver_ticket", acks_late=True, reject_on_worker_lost=True)
def deliver_ticket_task(delivery_id: int) -> str:
    """Idempotent: an attempt after the first searches BMS for the ticket's key and adopts it,
    so a redelivered message (worker killed mid-task) never creates a second ticket."""
    outcome = services.delivery_create_ticket(delivery_id)
    if outcome.retry_in is not None:
        deliver_ticket_task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


# E-mail has no idempotency key: acknowledged early, so a message is not redelivered blindly.
# A worker lost mid-send leaves the delivery leased; the sweep takes it over when the lease ends.
@shared_task(name="notifications.deliver_email", acks_late=False, reject_on_worker_lost=False)
def deliver_email_task(delivery_id: int) -> str:
    outcome = services.delivery_send_email(delivery_id)
    if outcome.retry_in is not None:
        deliver_email_task.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.sweep")
def sweep_task() -> dict:
    return services.deliveries_sweep()


@shared_task(name="notifications.invoices_past_due")
def invoices_past_due_task() -> int:
    return len(services.invoices_past_due_notify())
