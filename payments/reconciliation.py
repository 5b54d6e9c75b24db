"""Reconciliation: a succeeded payment is Reconciled once BMS shows its invoices paid by it.

Invariants:
- An allocation is reconciled when the invoice's synced balance has fallen, since the portal's
  first counted payment on it (its ``balance_before``), by at least the allocations that
  succeeded before it and itself: money BMS shows is matched to payments oldest first. It is
  the same measure the client's "paid through the portal" uses (selectors.unreflected_amounts).
- ``reconciled_at`` is set once and kept: an invoice edited in BMS later does not un-reconcile
  a payment BMS once showed. A payment is Reconciled when every allocation is.
- Reconciling runs after every successful sync and before the report is shown; it is
  idempotent and touches only allocations not reconciled yet.
- The report lists succeeded (or partly refunded) payments not reconciled
  PAYMENTS_UNRECONCILED_AFTER_DAYS after they succeeded: what BMS, through the accounting
  package, has not picked up. Staff only; CSV export streams.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, QuerySet
from django.dispatch import receiver
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views import View

from accounts.permissions import StaffRequiredMixin
from billing.models import Invoice
from core.csv_export import csv_streaming_response
from integrations.signals import sync_succeeded
from payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation, PaymentStatus

logger = logging.getLogger(__name__)

ZERO = Decimal("0")
# Money moved and not all returned: BMS should show it.
RECONCILABLE_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)
# Payments whose allocations set the baseline the balance is measured from.
_BASELINE_STATUSES = (*IN_FLIGHT_STATUSES, *RECONCILABLE_STATUSES)
_CHUNK = 500


def allocations_reconcile(*, invoice_ids=None, now: datetime | None = None) -> int:
    """Mark the allocations BMS now reflects (all invoices with one pending, or those given).
    Returns how many were marked."""
    now = now or timezone.now()
    pending = PaymentAllocation.objects.filter(reconciled_at__isnull=True, payment__status__in=RECONCILABLE_STATUSES)
    if invoice_ids is not None:
        pending = pending.filter(invoice_id__in=list(invoice_ids))
    ids = sorted(set(pending.values_list("invoice_id", flat=True)))
    marked = 0
    for start in range(0, len(ids), _CHUNK):
        marked += _reconcile_invoices(ids[start : start + _CHUNK], now=now)
    return marked


def _reconcile_invoices(invoice_ids: list[int], *, now: datetime) -> int:
    balances = dict(Invoice.objects.filter(pk__in=invoice_ids).values_list("pk", "balance_due"))
    rows = (
        PaymentAllocation.objects.filter(invoice_id__in=invoice_ids, payment__status__in=_BASELINE_STATUSES)
        .order_by("payment__succeeded_at", "payment__created_at", "pk")
        .values_list("pk", "invoice_id", "amount", "balance_before", "reconciled_at", "payment__status")
    )
    by_invoice: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_invoice[row[1]].append(row)
    to_mark: list[int] = []
    for invoice_id, allocations in by_invoice.items():
        baseline = max(row[3] for row in allocations)
        reflected = max(ZERO, baseline - balances.get(invoice_id, baseline))
        matched = ZERO
        for pk, _invoice, amount, _before, reconciled_at, status in allocations:
            if status not in RECONCILABLE_STATUSES:
                continue  # no money moved yet: BMS cannot show it
            matched += amount
            if matched > reflected:
                break
            if reconciled_at is None:
                to_mark.append(pk)
    return PaymentAllocation.objects.filter(pk__in=to_mark, reconciled_at__isnull=True).update(reconciled_at=now)


@receiver(sync_succeeded, dispatch_uid="payments.reconcile_after_sync")
def on_sync_succeeded(sender, run, **kwargs):
    try:
        allocations_reconcile()
    except Exception:  # the report reconciles again before it is shown
        logger.exception("Reconciling payments after sync run %s failed", run.pk)


# --- selectors ------------------------------------------------------------------------------------


def unreconciled_payments(*, older_than_days: int | None = None, now: datetime | None = None) -> QuerySet[Payment]:
    """Succeeded payments BMS does not fully show ``older_than_days`` after they succeeded,
    oldest first, with their allocations (and invoices) loaded."""
    days = settings.PAYMENTS_UNRECONCILED_AFTER_DAYS if older_than_days is None else older_than_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    open_allocation = PaymentAllocation.objects.filter(payment=OuterRef("pk"), reconciled_at__isnull=True)
    return (
        Payment.objects.filter(status__in=RECONCILABLE_STATUSES, succeeded_at__lte=cutoff)
        .filter(Exists(open_allocation))
        .select_related("organization", "method")
        .prefetch_related(Prefetch("allocations", queryset=PaymentAllocation.objects.select_related("invoice")))
        .order_by("succeeded_at", "pk")
    )


def payment_is_reconciled(payment: Payment) -> bool:
    allocations = list(payment.allocations.all())
    return bool(allocations) and all(a.reconciled_at for a in allocations)


# --- the staff report -----------------------------------------------------------------------------


class ReconciliationReportView(StaffRequiredMixin, View):
    """Payments BMS does not show yet; ``?format=csv`` downloads them."""

    template_name = "payments/reconciliation.html"

    def get(self, request):
        allocations_reconcile()
        days = settings.PAYMENTS_UNRECONCILED_AFTER_DAYS
        payments = unreconciled_payments(older_than_days=days)
        now = timezone.now()
        if request.GET.get("format") == "csv":
            return csv_streaming_response(
                filename=f"unreconciled-payments-{timezone.localdate():%Y-%m-%d}.csv",
                header=[
                    "Payment",
                    "Organization",
                    "Succeeded",
                    "Days",
                    "Currency",
                    "Invoice",
                    "Paid",
                    "BMS balance before",
                    "BMS balance now",
                    "Reconciled",
                    "Stripe PaymentIntent",
                ],
                rows=_csv_rows(payments, now=now),
            )
        rows = [
            {"payment": p, "days": (now - p.succeeded_at).days, "allocations": list(p.allocations.all())}
            for p in payments[:500]
        ]
        return render(request, self.template_name, {"rows": rows, "days": days, "total": payments.count()})


def _csv_rows(payments: QuerySet[Payment], *, now: datetime):
    for payment in payments.iterator(chunk_size=200):
        for allocation in payment.allocations.all():
            yield [
                payment.pk,
                payment.organization.name,
                payment.succeeded_at.isoformat(timespec="seconds"),
                (now - payment.succeeded_at).days,
                payment.currency,
                allocation.invoice.number,
                allocation.amount,
                allocation.balance_before,
                allocation.invoice.balance_due,
                "yes" if allocation.reconciled_at else "no",
                payment.processor_intent_id,
            ]


# Included by payments.urls under /payments/reconciliation/ (in the "payments" namespace).
urlpatterns = [path("", ReconciliationReportView.as_view(), name="reconciliation")]
