"""Celery tasks of accounts: each loads its row by id and calls a service."""

from celery import shared_task

from accounts.staff import staff_invitation_send, staff_invitation_send_failed

STAFF_INVITATION_MAX_RETRIES = 4


@shared_task(bind=True, name="accounts.staff_invitation_send", max_retries=STAFF_INVITATION_MAX_RETRIES)
def staff_invitation_send_task(self, invitation_id: int) -> None:
    try:
        staff_invitation_send(invitation_id=invitation_id)
    except OSError as exc:  # SMTP errors (smtplib.SMTPException is an OSError), refused connections
        if self.request.retries >= self.max_retries:
            staff_invitation_send_failed(invitation_id=invitation_id, reason=str(exc))
            return
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
