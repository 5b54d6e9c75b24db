"""Posting succeeded portal payments to the accounting package (Xero first), exactly once.

Invariants:
- One ``PaymentPosting`` row per succeeded allocation (unique on the allocation), created when the
  payment succeeds (the ``payment_changed`` receiver below) and, should that signal be lost, by the
  sweep for payments that succeeded in the last day. Rows are committed before anything is posted.
- One worker at a time per row: ``posting_run`` takes the row's lease (a conditional UPDATE) first,
  and records outcomes only while it holds it.
- The posted payment carries the row's reference (the allocation id and the revision); the package
  looks it up before creating, so a lost answer or a worker killed after the PUT and before our
  commit is found, not posted twice. The idempotency key (row id, revision, generation) is the same
  for every retry of an unclear attempt; only a staff Retry after a refusal starts a new generation.
- Refunds: the package's payments cannot be edited, only reversed. A refund (full or partial) makes a
  new revision, committed first: the amount kept (``kept_amounts``: each allocation keeps its share
  of what was not refunded), the payment to reverse (``superseded_id``). Then the old payment is
  reversed (reversing one already reversed succeeds) and, unless nothing is kept, the new one posted
  with the new revision's reference (looked up first, like any post). A row never sent
  (``sent_at`` empty) takes the amount kept before its first post.
- No accounting package connected: rows stay pending with the reason, and the sweep posts them once
  one is. Transient errors retry with backoff (``tasks.post_payment_task``); past
  ``POSTING_MAX_ATTEMPTS`` a row waits for staff (it shows as long pending on Posting errors).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from integrations.base import Capability, Category, IntegrationError
from integrations.capabilities import PaymentPoster, PostingRefused
from integrations.capabilities import PaymentPosting as PostingRequest
from integrations.registry import installation_offering
from payments.models import (
    MONEY_MOVED_STATUSES,
    Payment,
    PaymentAllocation,
    PaymentPosting,
    PaymentStatus,
    PostingStatus,
)
from payments.signals import payment_changed

logger = logging.getLogger(__name__)

POSTING_MAX_ATTEMPTS = 20
LONG_PENDING_AFTER = timedelta(hours=1)  # shown on Posting errors from then on
SWEEP_CREATES_FOR = timedelta(days=1)  # a lost signal is made good for payments this recent
NOT_CONNECTED = (
    "No accounting package that takes payments is connected; the posting waits and is sent once one is "
    "(Integrations, category Accounting)."
)
REPOSTING = "A refund changed the amount kept: the posted payment is reversed and the amount kept posted again."
_CENT = Decimal("0.01")
ZERO = Decimal("0")


class PostingBusy(Exception):
    """Another worker holds the posting's lease (or took it over from this one)."""


def poster() -> PaymentPoster | None:
    """The connected accounting installation that posts payments, or None."""
    return installation_offering(Capability.POST_PAYMENTS, category=Category.ACCOUNTING, connected=True)  # type: ignore[return-value]


def _enqueue(posting_id: int) -> None:
    from payments.tasks import post_payment_task  # why: tasks imports this module

    transaction.on_commit(lambda: post_payment_task.delay(posting_id))


# --- creating rows ---------------------------------------------------------------------------------


def postings_ensure(*, payment_id: int) -> list[PaymentPosting]:
    """The payment's posting rows (created for a payment whose money moved), each pending one or one
    that a refund concerns enqueued on commit. Safe to call any number of times."""
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status not in MONEY_MOVED_STATUSES:
            return []
        existing = set(PaymentPosting.objects.filter(payment=payment).values_list("allocation_id", flat=True))
        missing = PaymentAllocation.objects.filter(payment=payment).exclude(pk__in=existing)
        kept = kept_amounts(payment)
        PaymentPosting.objects.bulk_create(
            [
                PaymentPosting(allocation=a, payment=payment, amount=kept[a.pk], refund_basis=payment.refunded_amount)
                for a in missing
            ],
            ignore_conflicts=True,
        )
        rows = list(PaymentPosting.objects.filter(payment=payment))
        for row in rows:
            if _needs_work(row, payment):
                _enqueue(row.pk)
    return rows


def _needs_work(row: PaymentPosting, payment: Payment) -> bool:
    if row.status == PostingStatus.PENDING:
        return row.attempts < POSTING_MAX_ATTEMPTS
    # Posted, and the payment's refunds have changed since: the package's payment must follow.
    return row.status == PostingStatus.POSTED and row.refund_basis != payment.refunded_amount


def kept_amounts(payment: Payment) -> dict[int, Decimal]:
    """Per allocation id, what the accounting package should show paid: the allocation, less its share
    of the payment's refunds. A refund returns part of the whole charge (invoices and any surcharge
    alike), so the invoices keep ``amount * (total - refunded) / total``, shared in proportion to the
    allocations in cents; the cents rounding leaves go to the largest remainders (then the lowest
    ids), so the shares add up exactly."""
    allocations = list(PaymentAllocation.objects.filter(payment=payment).order_by("pk").values_list("pk", "amount"))
    refunded = payment.refunded_amount
    if refunded <= 0:
        return {pk: amount.quantize(_CENT, rounding=ROUND_HALF_UP) for pk, amount in allocations}
    allocated = sum((amount for _pk, amount in allocations), ZERO)
    if refunded >= payment.total or allocated <= 0:
        return {pk: ZERO for pk, _amount in allocations}
    kept_total = (allocated * (payment.total - refunded) / payment.total).quantize(_CENT, rounding=ROUND_HALF_UP)
    exact = {pk: amount * kept_total / allocated for pk, amount in allocations}
    shares = {pk: value.quantize(_CENT, rounding=ROUND_DOWN) for pk, value in exact.items()}
    left = int((kept_total - sum(shares.values(), ZERO)) / _CENT)
    for pk in sorted(exact, key=lambda pk: (-(exact[pk] - shares[pk]), pk))[:left]:
        shares[pk] += _CENT
    return shares


@receiver(payment_changed, dispatch_uid="payments.posting.payment_changed")
def _on_payment_changed(sender, payment: Payment, previous_status: str | None, **kwargs) -> None:
    if payment.status == PaymentStatus.SUCCEEDED:
        postings_ensure(payment_id=payment.pk)


@receiver(post_save, sender=Payment, dispatch_uid="payments.posting.refunded_amount_saved")
def _on_refunded_amount_saved(sender, instance: Payment, update_fields=None, **kwargs) -> None:
    """A refund changed the refunded total: the postings follow. (Not ``payment_changed``: a second
    partial refund changes no status.)"""
    if update_fields and "refunded_amount" in update_fields and instance.status in MONEY_MOVED_STATUSES:
        payment_id = instance.pk
        transaction.on_commit(lambda: postings_ensure(payment_id=payment_id), robust=True)


# --- posting one row -------------------------------------------------------------------------------


def _take_lease(posting_id: int):
    now = timezone.now()
    until = now + timedelta(seconds=settings.PAYMENTS_CHARGE_LEASE_SECONDS)
    taken = (
        PaymentPosting.objects.filter(
            pk=posting_id, status__in=[PostingStatus.PENDING, PostingStatus.POSTED, PostingStatus.REFUSED]
        )
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .update(lease_until=until, attempts=F("attempts") + 1, updated_at=now)
    )
    return until if taken else None


def _save(row: PaymentPosting, lease, **fields) -> None:
    """Record an outcome (or an intent), only while this worker still holds the lease: a worker whose
    lease expired and was taken over stops here (the new holder looks up before it creates)."""
    fields["updated_at"] = timezone.now()
    if not PaymentPosting.objects.filter(pk=row.pk, lease_until=lease).update(**fields):
        raise PostingBusy(f"posting {row.pk} was taken over by another worker")
    for name, value in fields.items():
        setattr(row, name, value)


def posting_run(*, posting_id: int) -> PaymentPosting:
    """Bring the accounting package in line with the payment: post a pending row; for a posted row
    whose payment was refunded since, reverse its payment and post the amount kept (if any). Raises
    PostingBusy while another worker holds it, and transient IntegrationErrors (the row stays pending)."""
    row = PaymentPosting.objects.select_related("payment", "allocation__invoice").get(pk=posting_id)
    if not _needs_work(row, row.payment):
        return row
    installation = poster()
    if installation is None:
        PaymentPosting.objects.filter(pk=row.pk, status=PostingStatus.PENDING).update(
            last_error=NOT_CONNECTED, updated_at=timezone.now()
        )
        row.refresh_from_db()
        return row
    lease = _take_lease(posting_id)
    if lease is None:
        raise PostingBusy(f"posting {posting_id} is held by another worker")
    try:
        row.refresh_from_db()
        payment = Payment.objects.get(pk=row.payment_id)
        provider_key = installation.provider.key  # type: ignore[attr-defined]
        # Twice at most: a row posted for an amount a refund has changed since is reposted at once.
        for _round in range(2):
            if not _needs_work(row, payment):
                break
            if row.status == PostingStatus.POSTED:
                _new_revision(row, lease, payment)
            if row.superseded_id and not _reverse(row, lease, installation):
                break
            if row.sent_at is None:
                # Nothing of this revision was sent: it takes the amount kept now.
                kept = kept_amounts(payment)[row.allocation_id]
                if (kept, payment.refunded_amount) != (row.amount, row.refund_basis):
                    _save(row, lease, amount=kept, refund_basis=payment.refunded_amount)
            if row.amount <= 0:
                _save(row, lease, status=PostingStatus.REVERSED, reversed_at=timezone.now(), last_error="")
                break
            if not _post(row, lease, installation, payment, provider_key):
                break
        return row
    finally:
        PaymentPosting.objects.filter(pk=row.pk, lease_until=lease).update(lease_until=None)


def _new_revision(row: PaymentPosting, lease, payment: Payment) -> None:
    """The intent, committed before the package is touched: the posted payment is to be reversed and
    the amount kept now posted under a new revision (its own reference and idempotency key)."""
    _save(
        row,
        lease,
        status=PostingStatus.PENDING,
        superseded_id=row.external_id,
        external_id="",
        revision=row.revision + 1,
        amount=kept_amounts(payment)[row.allocation_id],
        refund_basis=payment.refunded_amount,
        sent_at=None,
        attempts=1,  # this run's: a revision has its own POSTING_MAX_ATTEMPTS
        last_error=REPOSTING,
        messages=[],
    )
    logger.info("Posting %s: a refund changed the amount kept to %s; reposting", row.reference, row.amount)


def _post(row: PaymentPosting, lease, installation: PaymentPoster, payment: Payment, provider_key: str) -> bool:
    request = PostingRequest(
        reference=row.reference,
        invoice_number=row.allocation.invoice.number,
        amount=row.amount,
        currency=payment.currency.upper(),
        paid_on=timezone.localdate(payment.succeeded_at or payment.created_at),
    )
    if row.sent_at is None:
        _save(row, lease, sent_at=timezone.now())
    try:
        posted = installation.post_payment(request, idempotency_key=row.idempotency_key)
    except PostingRefused as exc:
        _save(
            row,
            lease,
            status=PostingStatus.REFUSED,
            provider_key=provider_key,
            last_error=str(exc)[:1000],
            messages=list(exc.messages),
        )
        logger.warning("Posting %s refused: %s", row.reference, exc)
        return False
    except IntegrationError as exc:
        _save(row, lease, provider_key=provider_key, last_error=_error_text(installation, exc))
        raise
    _save(
        row,
        lease,
        status=PostingStatus.POSTED,
        provider_key=provider_key,
        external_id=posted.external_id,
        posted_at=timezone.now(),
        last_error="",
        messages=[],
    )
    logger.info("Posted %s as %s (%s)", row.reference, posted.external_id, "new" if posted.created else "found")
    return True


def _reverse(row: PaymentPosting, lease, installation: PaymentPoster) -> bool:
    """Reverse the payment the row's new revision replaces. False: refused (the row shows why)."""
    try:
        installation.reverse_payment(external_id=row.superseded_id, idempotency_key=f"{row.idempotency_key}-reverse")
    except PostingRefused as exc:
        _save(
            row,
            lease,
            status=PostingStatus.REFUSED,
            last_error=f"The payment was refunded; reversing {row.superseded_id} was refused: {exc}"[:1000],
            messages=list(exc.messages),
        )
        return False
    except IntegrationError as exc:
        _save(row, lease, last_error=_error_text(installation, exc))
        raise
    _save(row, lease, superseded_id="", reversed_at=timezone.now())
    return True


def _error_text(installation, exc: IntegrationError) -> str:
    try:
        return installation.error_message(exc, doing="post_payment")[:1000]
    except Exception:  # a message is never worth losing the outcome for
        return str(exc)[:1000]


# --- the sweep and staff actions -------------------------------------------------------------------


def postings_sweep() -> dict[str, int]:
    """Every few minutes: rows for recent payments whose signal was lost, and every row with work
    left whose lease is free, enqueued again."""
    since = timezone.now() - SWEEP_CREATES_FOR
    created = 0
    lacking = (
        Payment.objects.filter(status__in=MONEY_MOVED_STATUSES, succeeded_at__gte=since)
        .filter(allocations__posting__isnull=True)
        .values_list("pk", flat=True)
        .distinct()
    )
    for payment_id in lacking:
        created += len(postings_ensure(payment_id=payment_id))
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    due = PaymentPosting.objects.filter(free).filter(
        Q(status=PostingStatus.PENDING, attempts__lt=POSTING_MAX_ATTEMPTS)
        | (Q(status=PostingStatus.POSTED) & ~Q(refund_basis=F("payment__refunded_amount")))
    )
    ids = list(due.values_list("pk", flat=True))
    with transaction.atomic():
        for posting_id in ids:
            _enqueue(posting_id)
    return {"created": created, "enqueued": len(ids)}


def posting_retry(*, posting_id: int, actor: User) -> PaymentPosting:
    """Staff fixed the cause of a refusal (or a long wait): a new idempotency generation, sent again."""
    with transaction.atomic():
        row = PaymentPosting.objects.select_for_update().get(pk=posting_id)
        if row.status not in (PostingStatus.REFUSED, PostingStatus.PENDING):
            return row
        row.status = PostingStatus.PENDING
        row.generation += 1
        row.attempts = 0
        row.last_error = ""
        row.messages = []
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "generation", "attempts", "last_error", "messages", "updated_at"])
        audit_record(
            actor=actor,
            action="payment.posting_retried",
            target=f"payment:{row.payment_id}",
            summary=f"Retried posting {row.reference} (generation {row.generation})",
        )
        _enqueue(row.pk)
    return row


def posting_dismiss(*, posting_id: int, actor: User, note: str) -> PaymentPosting:
    """Staff handled it by hand: no longer posted nor shown as an error."""
    with transaction.atomic():
        row = PaymentPosting.objects.select_for_update().get(pk=posting_id)
        if row.status not in (PostingStatus.REFUSED, PostingStatus.PENDING):
            return row
        row.status = PostingStatus.DISMISSED
        row.note = note[:500]
        row.dismissed_by = actor
        row.updated_at = timezone.now()
        row.save(update_fields=["status", "note", "dismissed_by", "updated_at"])
        audit_record(
            actor=actor,
            action="payment.posting_dismissed",
            target=f"payment:{row.payment_id}",
            summary=f"Dismissed posting {row.reference}: {row.note}",
        )
    return row


# --- reading ---------------------------------------------------------------------------------------


def posting_errors():
    """Refused postings and those pending for long, oldest first."""
    long_ago = timezone.now() - LONG_PENDING_AFTER
    return (
        PaymentPosting.objects.filter(
            Q(status=PostingStatus.REFUSED) | Q(status=PostingStatus.PENDING, created_at__lt=long_ago)
        )
        .select_related("payment__organization", "allocation__invoice")
        .order_by("created_at", "id")
    )
