"""Delivering: the outbox mechanics every channel shares, written once.

Invariants:
- A delivery row is committed (by ``firing``) before anything is sent; a task carries only its id.
- One attempt at a time: ``claim`` is one conditional UPDATE (a claimable status, or SENDING
  whose lease ran out) that also counts the attempt, committed before the channel sends.
  Two copies of a task never send at once; the second one is told to look again when the
  lease runs out ("busy").
- A result is recorded only under the lease that produced it (``finish`` filters on the token):
  a worker whose lease was taken over records nothing.
- Every attempt ends Sent, Retrying (with the next attempt's time) or Failed (with the reason),
  whatever the channel raises: an exception the channel does not name is logged with its
  traceback and counts as transient (it may be momentary: a DNS hiccup while building a client).
- A transient error is retried with capped, jittered backoff (never sooner than the Retry-After
  asked for) until NOTIFICATIONS_MAX_ATTEMPTS, then fails "Gave up after N attempts"; a permanent
  error fails at once with the reason in words. The last MAX_ERRORS_KEPT errors stay on the row.
- Attempts never climb past NOTIFICATIONS_MAX_ATTEMPTS on their own: an attempt that ended
  without a result (its worker died, its lease ran out) is noted in the errors when the next
  attempt takes over, and once the last allowed attempt ended that way the delivery fails
  with that reason instead of being claimed again. (A staff retry from the log allows one more.)
- A delivery whose task was lost (broker hiccup, worker death) is queued again by the sweep.
"""

from __future__ import annotations

import logging
import random
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from notifications.channels import channel_for
from notifications.channels.base import DeliveryFailed, DeliveryOutcome, DeliveryRetry
from notifications.models import CLAIMABLE_STATUSES, Delivery, DeliveryStatus

logger = logging.getLogger(__name__)

MAX_ERRORS_KEPT = 20


def delivery_attempt(delivery_id: int) -> DeliveryOutcome:
    """One attempt at a delivery through its channel: claim, send, record what happened."""
    delivery, why_not = claim(delivery_id)
    if delivery is None:
        return busy_outcome(delivery_id) if why_not == "busy" else DeliveryOutcome(why_not)
    try:
        return channel_for(delivery.channel).send(delivery)
    except DeliveryFailed as exc:
        return record_error(delivery, str(exc), transient=False)
    except DeliveryRetry as exc:
        return record_error(delivery, str(exc), transient=True, retry_after=exc.retry_after)
    except Exception as exc:  # anything else: said in the log and on the row, never left "Sending"
        logger.exception("Delivery %s attempt %s: unexpected error", delivery.pk, delivery.attempts)
        return record_error(delivery, f"Unexpected error: {type(exc).__name__}: {exc}"[:500], transient=True)


def claim(delivery_id: int) -> tuple[Delivery | None, str]:
    """Take the delivery for one attempt: (delivery holding the lease token, ""), or (None, why not)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    take = {
        "status": DeliveryStatus.SENDING,
        "lease_token": token,
        "lease_until": now + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS),
        "attempts": F("attempts") + 1,
        "next_attempt_at": None,
    }
    rows = Delivery.objects.filter(pk=delivery_id)
    taken_over = False
    updated = rows.filter(status__in=CLAIMABLE_STATUSES).update(**take)
    if not updated:
        # An attempt whose lease ran out ended without a result: take over, if attempts are left.
        abandoned = rows.filter(status=DeliveryStatus.SENDING, lease_until__lt=now)
        updated = taken_over = bool(abandoned.filter(attempts__lt=settings.NOTIFICATIONS_MAX_ATTEMPTS).update(**take))
        if not updated and give_up_abandoned(abandoned):
            return None, DeliveryStatus.FAILED
    if updated:
        delivery = Delivery.objects.select_related("notification__organization", "notification__invoice").get(
            pk=delivery_id
        )
        if taken_over:
            note_abandoned_attempt(delivery)
        return delivery, ""
    current = rows.values("status", "lease_until").first()
    if current is None:
        return None, "gone"
    if current["status"] == DeliveryStatus.SENDING:
        return None, "busy"
    return None, current["status"]


def _abandoned_message(attempt: int) -> str:
    return f"Attempt {attempt} ended without a result (its worker stopped or its lease ran out)."


def _with_error(errors: list, *, attempt: int, message: str, transient: bool) -> list:
    """The delivery's error list with this one added, the oldest dropped past MAX_ERRORS_KEPT."""
    entry = {"at": timezone.now().isoformat(), "attempt": attempt, "error": message, "transient": transient}
    return [*errors, entry][-MAX_ERRORS_KEPT:]


def note_abandoned_attempt(delivery: Delivery) -> None:
    """Taking over from an attempt that ended without a result: say so on the row."""
    message = _abandoned_message(delivery.attempts - 1)
    delivery.errors = _with_error(delivery.errors, attempt=delivery.attempts - 1, message=message, transient=True)
    Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(errors=delivery.errors)
    logger.warning("Delivery %s: %s Taking over.", delivery.pk, message)


def give_up_abandoned(abandoned) -> bool:
    """The last allowed attempt ended without a result: fail the delivery with that reason."""
    row = abandoned.values("pk", "attempts", "errors", "lease_token").first()
    if row is None:
        return False
    message = _abandoned_message(row["attempts"])
    errors = _with_error(row["errors"], attempt=row["attempts"], message=message, transient=True)
    reason = f"Gave up after {row['attempts']} attempts: {message}"
    failed = abandoned.filter(lease_token=row["lease_token"]).update(
        status=DeliveryStatus.FAILED,
        reason=reason,
        errors=errors,
        lease_token="",
        lease_until=None,
        updated_at=timezone.now(),
    )
    if failed:
        logger.warning("Delivery %s failed: %s", row["pk"], reason)
    return bool(failed)


def busy_outcome(delivery_id: int) -> DeliveryOutcome:
    """Another worker holds the lease: look again when it runs out (it may have died)."""
    lease_until = Delivery.objects.filter(pk=delivery_id).values_list("lease_until", flat=True).first()
    wait = max(1.0, (lease_until - timezone.now()).total_seconds() + 1) if lease_until else 1.0
    return DeliveryOutcome("busy", retry_in=wait)


def renew_lease(delivery: Delivery, **fields) -> bool:
    """Extend the lease (and save ``fields``) right before an irreversible step; False when
    the lease was already taken over, so the step must not happen."""
    return bool(
        Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(
            lease_until=timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS), **fields
        )
    )


def finish(delivery: Delivery, **fields) -> bool:
    """Record the attempt's result and release the lease, only if this attempt still holds it."""
    fields.setdefault("lease_token", "")
    fields.setdefault("lease_until", None)
    updated = Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(
        updated_at=timezone.now(), **fields
    )
    if not updated:
        logger.warning("Delivery %s: lease lost before recording the result", delivery.pk)
    return bool(updated)


def record_error(delivery: Delivery, message: str, *, transient: bool, retry_after: float = 0.0) -> DeliveryOutcome:
    """Keep the error; retry a transient one later (until the attempts run out), else fail."""
    errors = _with_error(delivery.errors, attempt=delivery.attempts, message=message, transient=transient)
    if transient and delivery.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
        cap = settings.NOTIFICATIONS_RETRY_BACKOFF_MAX_SECONDS
        base = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
        wait = max(retry_after, random.uniform(0, min(cap, base * 2 ** (delivery.attempts - 1))))
        wait = min(max(wait, 0.5), max(cap, retry_after))
        finish(
            delivery,
            status=DeliveryStatus.RETRYING,
            errors=errors,
            reason="",
            next_attempt_at=timezone.now() + timedelta(seconds=wait),
        )
        logger.info(
            "Delivery %s attempt %s failed (%s); retrying in %.1f s", delivery.pk, delivery.attempts, message, wait
        )
        return DeliveryOutcome("retrying", retry_in=wait)
    reason = message if not transient else f"Gave up after {delivery.attempts} attempts: {message}"
    finish(delivery, status=DeliveryStatus.FAILED, errors=errors, reason=reason)
    logger.warning("Delivery %s failed: %s", delivery.pk, reason)
    return DeliveryOutcome("failed")


def enqueue(delivery_id: int, channel: str, countdown: float | None = None) -> None:
    """Queue the channel's task for this delivery. Call it from ``transaction.on_commit``."""
    from notifications.tasks import DELIVERY_TASKS  # why: tasks.py imports this module to run the attempt

    try:
        DELIVERY_TASKS[channel].apply_async((delivery_id,), countdown=countdown)
    except Exception:  # broker down: the sweep picks the delivery up later
        logger.exception("Could not enqueue delivery %s; the sweep will retry it", delivery_id)


def deliveries_requeue_lost() -> int:
    """Beat, every minute: queue again the deliveries whose task was lost (broker hiccup,
    worker death): queued for over 2 minutes, a retry overdue by a minute, or a lease run out."""
    now = timezone.now()
    due = Delivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, created_at__lt=now - timedelta(minutes=2))
        | Q(status=DeliveryStatus.RETRYING, next_attempt_at__lt=now - timedelta(minutes=1))
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    ).values_list("pk", "channel")[:500]
    requeued = 0
    for pk, channel in due:
        enqueue(pk, channel)
        requeued += 1
    return requeued
