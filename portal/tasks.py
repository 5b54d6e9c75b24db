"""Celery tasks of the client portal: each loads its row by id and calls a service."""

from celery import shared_task

from portal.invitations import invitation_send, invitation_send_failed

# SMTP errors (smtplib.SMTPException is an OSError) and refused connections are retried.
INVITATION_MAX_RETRIES = 4


@shared_task(bind=True, name="portal.invitation_send", max_retries=INVITATION_MAX_RETRIES)
def invitation_send_task(self, invitation_id: int) -> None:
    try:
        invitation_send(invitation_id=invitation_id)
    except OSError as exc:
        if self.request.retries >= self.max_retries:
            invitation_send_failed(invitation_id=invitation_id, reason=str(exc))
            return
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries) from exc
