"""Reads for payments: balances as the client sees them, lists, one payment.

Invariants:
- The balance a client may pay is the synced BMS balance less the portal's own payments BMS
  does not reflect yet (``unreflected_amounts``): in flight, or succeeded since the balance
  was synced. Nobody pays twice while the sync catches up.
- Every client read is scoped by organization; another organization's payment answers 404.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404

from billing.models import Invoice
from payments.models import (
    IN_FLIGHT_STATUSES,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
)

ZERO = Decimal("0")

# Payments whose money is (or may soon be) with the MSP: BMS should show them on the invoice.
_COUNTED_STATUSES = (*IN_FLIGHT_STATUSES, PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)


def portal_currency() -> str:
    """The currency invoices are paid in: the BMS tenant's, as configured (invoices carry none)."""
    return settings.PORTAL_CURRENCY


@dataclass(frozen=True)
class InvoicePaymentState:
    invoice_id: int
    balance: Decimal  # as BMS last said
    unreflected: Decimal  # portal payments BMS does not show yet
    processing: bool  # a portal payment is in flight

    @property
    def payable(self) -> Decimal:
        """The most a client may pay on it now."""
        return max(ZERO, self.balance - self.unreflected)


def unreflected_amounts(invoices: Iterable[Invoice]) -> dict[int, InvoicePaymentState]:
    """Per invoice, how much of the portal's payments BMS does not reflect yet.

    Cumulative, so it needs no reconciliation record: S is the sum the portal's counted payments
    put on the invoice; R is how far the synced balance has fallen since the first of them was
    made (its ``balance_before``); what BMS does not show yet is S - R, never below 0. A balance
    that grows again (the invoice edited in BMS) makes R smaller, so the client is shown less
    to pay, never more. Failed and fully refunded payments do not count."""
    invoices = list(invoices)
    allocations = PaymentAllocation.objects.filter(
        invoice_id__in=[i.pk for i in invoices], payment__status__in=_COUNTED_STATUSES
    ).values_list("invoice_id", "amount", "balance_before", "payment__status")
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    baseline: dict[int, Decimal] = {}
    processing: set[int] = set()
    for invoice_id, amount, balance_before, status in allocations:
        paid[invoice_id] += amount
        baseline[invoice_id] = max(baseline.get(invoice_id, balance_before), balance_before)
        if status in IN_FLIGHT_STATUSES:
            processing.add(invoice_id)
    states = {}
    for invoice in invoices:
        reflected = max(ZERO, baseline.get(invoice.pk, invoice.balance_due) - invoice.balance_due)
        states[invoice.pk] = InvoicePaymentState(
            invoice_id=invoice.pk,
            balance=invoice.balance_due,
            unreflected=max(ZERO, paid[invoice.pk] - reflected),
            processing=invoice.pk in processing,
        )
    return states


def invoice_payment_state(invoice: Invoice) -> InvoicePaymentState:
    return unreflected_amounts([invoice])[invoice.pk]


def payable_invoices(*, organization_id: int | None, invoice_ids: Iterable[int] | None = None) -> list[Invoice]:
    """The organization's open invoices (all, or those of ``invoice_ids``), oldest due first."""
    if organization_id is None:
        return []
    invoices = Invoice.objects.filter(organization_id=organization_id, deleted_at__isnull=True, balance_due__gt=0)
    if invoice_ids is not None:
        invoices = invoices.filter(pk__in=list(invoice_ids))
    return list(invoices.order_by("due_date", "pk"))


# --- payment methods -------------------------------------------------------------------------


def saved_methods(*, organization_id: int) -> QuerySet[PaymentMethod]:
    """Methods the organization keeps (not removed, not one-off)."""
    return PaymentMethod.objects.filter(organization_id=organization_id, is_saved=True, removed_at__isnull=True)


def client_method_get(*, organization_id: int | None, pk: int) -> PaymentMethod:
    method = saved_methods(organization_id=organization_id or 0).filter(pk=pk).first()
    if method is None:
        raise Http404("No such payment method.")
    return method


# --- payments --------------------------------------------------------------------------------


def client_payment_list(*, organization_id: int | None) -> QuerySet[Payment]:
    if organization_id is None:
        return Payment.objects.none()
    return (
        Payment.objects.filter(organization_id=organization_id)
        .select_related("method")
        .prefetch_related("allocations__invoice")
    )


def client_payment_get(*, organization_id: int | None, pk: int) -> Payment:
    """One of the organization's payments, or Http404 (never another organization's)."""
    payment = client_payment_list(organization_id=organization_id).filter(pk=pk).first()
    if payment is None:
        raise Http404("No such payment.")
    return payment


def payment_list(
    *,
    organization_id: int | None = None,
    status: str = "",
    method_kind: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[Payment]:
    payments = Payment.objects.select_related("organization", "method", "initiated_by_user")
    if organization_id:
        payments = payments.filter(organization_id=organization_id)
    if status:
        payments = payments.filter(status=status)
    if method_kind:
        payments = payments.filter(method__kind=method_kind)
    if date_from:
        payments = payments.filter(created_at__date__gte=date_from)
    if date_to:
        payments = payments.filter(created_at__date__lte=date_to)
    return payments.prefetch_related("allocations__invoice").order_by("-created_at", "-id")


def payment_get(*, pk: int) -> Payment:
    payment = (
        Payment.objects.select_related("organization", "method", "initiated_by_user")
        .prefetch_related("allocations__invoice", "refunds__requested_by", "events")
        .filter(pk=pk)
        .first()
    )
    if payment is None:
        raise Http404("No such payment.")
    return payment
