"""Payment tasks: each loads by id and calls a service; all are safe to run twice.

Tasks are acknowledged late (a killed worker's task is redelivered); the services make a
redelivery harmless (see services.py, "Exactly once")."""

from __future__ import annotations

import logging

from celery import shared_task

from integrations.base import IntegrationError
from payments import autopay, posting, services

logger = logging.getLogger(__name__)

CHARGE_RETRY_DELAYS = (5, 15, 60, 300, 900)


def _retry_delay(attempt: int) -> int:
    return CHARGE_RETRY_DELAYS[min(attempt, len(CHARGE_RETRY_DELAYS) - 1)]


@shared_task(bind=True, name="payments.charge", max_retries=len(CHARGE_RETRY_DELAYS) * 2)
def charge_payment_task(self, payment_id: int) -> str:
    try:
        payment = services.payment_charge(payment_id=payment_id)
    except services.ChargeBusy as exc:
        raise self.retry(countdown=_retry_delay(self.request.retries), exc=exc) from None
    except IntegrationError as exc:
        if not exc.transient:
            logger.error("Charging payment %s failed: %s", payment_id, exc)
            raise
        countdown = max(exc.retry_after or 0, _retry_delay(self.request.retries))
        raise self.retry(countdown=countdown, exc=exc) from None
    return payment.status


@shared_task(bind=True, name="payments.process_event", max_retries=8)
def process_event_task(self, event_pk: int) -> str:
    try:
        event = services.processor_event_process(event_pk=event_pk)
    except IntegrationError as exc:
        if not exc.transient:
            raise
        raise self.retry(countdown=max(exc.retry_after or 0, _retry_delay(self.request.retries)), exc=exc) from None
    return event.outcome


@shared_task(name="payments.settle_unsettled")
def settle_unsettled_task() -> dict:
    try:
        return services.payments_settle_unsettled()
    except services.PaymentsUnavailable:
        return {}


@shared_task(name="payments.autopay_evaluate")
def autopay_evaluate_task() -> dict:
    try:
        return autopay.autopay_evaluate()
    except services.PaymentsUnavailable:
        return {}


# --- posting to the accounting package (posting.py) ------------------------------------------------

POSTING_RETRY_DELAYS = (10, 30, 120, 600, 1800)


@shared_task(bind=True, name="payments.post", max_retries=len(POSTING_RETRY_DELAYS))
def post_payment_task(self, posting_id: int) -> str:
    try:
        row = posting.posting_run(posting_id=posting_id)
    except posting.PostingBusy:
        return "busy"  # the holder finishes it; a crashed holder's lease expires and the sweep resends
    except IntegrationError as exc:
        if not exc.transient or self.request.retries >= self.max_retries:
            logger.warning("Posting %s waits (the sweep tries again): %s", posting_id, exc)
            return "pending"
        countdown = max(exc.retry_after or 0, POSTING_RETRY_DELAYS[min(self.request.retries, 4)])
        raise self.retry(countdown=countdown, exc=exc) from None
    return row.status


@shared_task(name="payments.posting_sweep")
def posting_sweep_task() -> dict:
    return posting.postings_sweep()
