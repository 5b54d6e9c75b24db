"""Celery tasks of accounts: each loads its row by id and calls a service."""

from celery import shared_task

from accounts.staff import staff_invitation_send


@shared_task(name="accounts.staff_invitation_send", autoretry_for=(OSError,), retry_backoff=30, max_retries=5)
def staff_invitation_send_task(invitation_id: int) -> None:
    staff_invitation_send(invitation_id=invitation_id)
