"""Xero's AmountDue for "balances agree" (the INVOICE_BALANCES capability): answered from the stored
invoices in one query, never a Xero call; the portal's own postings and reversals move the stored
figure at once, to exactly what Xero then says (a lost answer included)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Invoice
from integrations.base import Capability, Category
from integrations.capabilities import PaymentPosting
from integrations.registry import installation_offering
from providers.xero.models import XeroInvoice
from tests.billing.factories import InvoiceFactory
from tests.providers.xero.test_payment_posting import (  # noqa: F401 - _no_waiting is an autouse fixture
    _lose_the_answer_of_the_next_put,
    _no_waiting,
    _open_invoice,
)

pytestmark = pytest.mark.django_db


def stored(installation, number: str, amount_due: str, *, status: str = "AUTHORISED", n: int, **fields):
    return XeroInvoice.objects.create(
        source=installation.source,
        bms_id=f"00000000-0000-0000-0000-{n:012d}",
        sync_hash="x",
        synced_at=timezone.now(),
        invoice_number=number,
        status=status,
        currency="USD",
        amount_due=Decimal(amount_due),
        **fields,
    )


def test_amounts_due_come_from_the_stored_invoices_in_one_query(
    xero_installation, xero_sandbox, django_assert_num_queries
):
    first, second, voided, missing, deleted = (InvoiceFactory(number=f"B-{n}") for n in range(5))
    stored(xero_installation, "B-0", "80.00", n=1)
    # The same number voided, then entered again: the live one counts.
    stored(xero_installation, "B-1", "0.00", status="VOIDED", n=2, xero_updated_at=timezone.now())
    stored(xero_installation, "B-1", "35.00", n=3, xero_updated_at=timezone.now() - timezone.timedelta(days=1))
    stored(xero_installation, "B-2", "0.00", status="VOIDED", n=4)
    stored(xero_installation, "B-4", "9.00", n=5, deleted_at=timezone.now())  # gone from Xero
    xero_sandbox.control.clear_requests()
    installation = installation_offering(Capability.INVOICE_BALANCES, category=Category.ACCOUNTING)
    invoices = list(Invoice.objects.filter(pk__in=[i.pk for i in (first, second, voided, missing, deleted)]))
    with django_assert_num_queries(1):
        balances = installation.accounting_balances(invoices)
    assert {pk: (b.system, b.amount_due, b.currency) for pk, b in balances.items()} == {
        first.pk: ("Xero", Decimal("80.00"), "USD"),
        second.pk: ("Xero", Decimal("35.00"), "USD"),
        voided.pk: ("Xero", Decimal("0.00"), "USD"),
    }
    assert xero_sandbox.control.requests()["total"] == 0


def _posting(invoice, reference: str, amount: str) -> PaymentPosting:
    return PaymentPosting(reference, invoice.invoice_number, Decimal(amount), "USD", date(2026, 1, 15))


def _stored_due(installation, invoice) -> Decimal:
    return XeroInvoice.objects.get(source=installation.source, bms_id=invoice.invoice_id.lower()).amount_due


def _xero_due(installation, invoice) -> Decimal:
    with installation.client() as client:
        return client.get_invoice(invoice.invoice_id).amount_due


def test_a_posting_and_its_reversal_move_the_stored_amount_due_at_once(xero_installation):
    invoice = _open_invoice(xero_installation)
    posted = xero_installation.post_payment(_posting(invoice, "ref-1", "20.00"), idempotency_key="k1")
    assert _stored_due(xero_installation, invoice) == invoice.amount_due - Decimal("20.00")
    assert _stored_due(xero_installation, invoice) == _xero_due(xero_installation, invoice)
    # Found again by its reference (an earlier attempt's): Xero's figure already had it.
    xero_installation.post_payment(_posting(invoice, "ref-1", "20.00"), idempotency_key="k1-again")
    assert _stored_due(xero_installation, invoice) == _xero_due(xero_installation, invoice)
    xero_installation.reverse_payment(external_id=posted.external_id, idempotency_key="r1")
    assert _stored_due(xero_installation, invoice) == invoice.amount_due == _xero_due(xero_installation, invoice)


def test_a_lost_answer_moves_the_stored_amount_due_once(xero_installation, xero_sandbox, monkeypatch):
    invoice = _open_invoice(xero_installation)
    sent = _lose_the_answer_of_the_next_put(monkeypatch, xero_sandbox)
    posted = xero_installation.post_payment(_posting(invoice, "ref-2", "15.00"), idempotency_key="k2")
    assert not posted.created and len(sent) == 1
    assert _stored_due(xero_installation, invoice) == invoice.amount_due - Decimal("15.00")
    assert _stored_due(xero_installation, invoice) == _xero_due(xero_installation, invoice)
