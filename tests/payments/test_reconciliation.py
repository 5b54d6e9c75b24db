"""Reconciliation: a payment is Reconciled once a sync shows BMS's balance fallen by it (oldest
payments matched first, once and for good), and the staff report lists the succeeded payments
BMS still does not show after PAYMENTS_UNRECONCILED_AFTER_DAYS, on the page and as CSV."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from integrations.models import SyncRun
from integrations.signals import sync_succeeded
from payments.models import Initiator, Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from payments.reconciliation import (
    allocations_reconcile,
    on_sync_succeeded,
    payment_is_reconciled,
    unreconciled_payments,
)

from .conftest import make_invoice, make_organization

pytestmark = pytest.mark.django_db
URL = reverse("payments:reconciliation")
_keys = iter(range(10_000))


def card(organization) -> PaymentMethod:
    return PaymentMethod.objects.create(
        organization=organization,
        processor="stripe",
        processor_customer_id="cus_x",
        processor_method_id=f"pm_{next(_keys)}",
        kind="card",
        brand="visa",
        last4="4242",
    )


def paid(organization, *parts, days_ago: int = 5, status=PaymentStatus.SUCCEEDED) -> Payment:
    """A payment that succeeded ``days_ago``, of (invoice, amount) parts, made at the balances then."""
    when = timezone.now() - timedelta(days=days_ago)
    payment = Payment.objects.create(
        organization=organization,
        method=card(organization),
        amount=sum(Decimal(a) for _, a in parts),
        currency="USD",
        status=status,
        processor="stripe",
        processor_intent_id=f"pi_{next(_keys)}",
        idempotency_key=f"key-{next(_keys)}",
        initiated_by=Initiator.CLIENT,
        created_at=when,
        succeeded_at=when if status != PaymentStatus.FAILED else None,
    )
    for invoice, amount in parts:
        PaymentAllocation.objects.create(
            payment=payment, invoice=invoice, amount=Decimal(amount), balance_before=invoice.balance_due
        )
    return payment


def bms_shows(invoice: Invoice, balance: str) -> None:
    """What a sync stores when BMS reports the invoice's balance."""
    Invoice.objects.filter(pk=invoice.pk).update(balance_due=Decimal(balance))


def test_a_payment_is_reconciled_once_bms_shows_the_invoice_paid_by_it(organization):
    shown = make_invoice(organization, "100.00")
    not_shown = make_invoice(organization, "50.00")
    first, second = paid(organization, (shown, "100.00")), paid(organization, (not_shown, "20.00"))
    bms_shows(shown, "0.00")
    bms_shows(not_shown, "45.00")  # fell by 5 only: not by the payment's 20
    assert allocations_reconcile() == 1
    first.refresh_from_db()
    assert payment_is_reconciled(first) and not payment_is_reconciled(second)
    assert list(unreconciled_payments()) == [second]
    assert allocations_reconcile() == 0  # idempotent


def test_payments_on_one_invoice_are_matched_oldest_first_and_stay_reconciled(organization):
    invoice = make_invoice(organization, "300.00")
    older = paid(organization, (invoice, "100.00"), days_ago=9)
    newer = paid(organization, (invoice, "150.00"), days_ago=8)
    bms_shows(invoice, "200.00")  # BMS has the first payment only
    allocations_reconcile()
    assert payment_is_reconciled(older) and not payment_is_reconciled(newer)
    bms_shows(invoice, "50.00")
    allocations_reconcile()
    assert payment_is_reconciled(newer)
    bms_shows(invoice, "400.00")  # edited in BMS afterwards: what it showed stays reconciled
    allocations_reconcile()
    assert payment_is_reconciled(older) and payment_is_reconciled(newer)


def test_a_payment_of_several_invoices_is_reconciled_when_each_is_shown(organization):
    a, b = make_invoice(organization, "10.00"), make_invoice(organization, "20.00")
    payment = paid(organization, (a, "10.00"), (b, "20.00"))
    bms_shows(a, "0.00")
    allocations_reconcile()
    assert not payment_is_reconciled(payment)
    assert list(unreconciled_payments()) == [payment]
    bms_shows(b, "0.00")
    allocations_reconcile()
    assert payment_is_reconciled(payment) and not unreconciled_payments().exists()


def test_only_money_that_moved_counts_and_the_report_waits_n_days(organization, settings):
    settings.PAYMENTS_UNRECONCILED_AFTER_DAYS = 3
    invoice = make_invoice(organization, "90.00")
    failed = paid(organization, (invoice, "90.00"), status=PaymentStatus.FAILED)
    recent = paid(organization, (make_invoice(organization, "10.00"), "10.00"), days_ago=1)
    old = paid(organization, (make_invoice(organization, "12.00"), "12.00"), days_ago=4)
    bms_shows(invoice, "0.00")  # paid some other way: not the failed payment's doing
    allocations_reconcile()
    assert not PaymentAllocation.objects.filter(payment=failed, reconciled_at__isnull=False).exists()
    assert list(unreconciled_payments()) == [old]
    assert set(unreconciled_payments(older_than_days=0)) == {recent, old}


def test_each_successful_sync_reconciles(organization):
    invoice = make_invoice(organization, "40.00")
    payment = paid(organization, (invoice, "40.00"))
    bms_shows(invoice, "0.00")
    assert "payments.reconcile_after_sync" in [r[0][0] for r in sync_succeeded.receivers]
    on_sync_succeeded(sender=SyncRun, run=SimpleNamespace(pk=1))
    assert payment_is_reconciled(payment)


def test_staff_see_the_report_and_download_it_as_csv(organization, billing_client, client_client):
    invoice = make_invoice(organization, "75.00", number="INV-RECON")
    payment = paid(organization, (invoice, "75.00"), days_ago=6)
    page = billing_client.get(URL)
    assert page.status_code == 200
    body = page.content.decode()
    assert "INV-RECON" in body and f'data-payment="{payment.pk}"' in body and "6 days ago" in body
    download = billing_client.get(URL, {"format": "csv"})
    assert download["Content-Type"].startswith("text/csv")
    lines = b"".join(download.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Payment,Organization,Succeeded,Days,Currency,Invoice,Paid")
    assert lines[1].startswith(f"{payment.pk},Acme Ltd,") and ",INV-RECON,75.000,75.000,75.00,no," in lines[1]
    assert len(lines) == 2
    assert client_client.get(URL).status_code in (302, 403)

    bms_shows(invoice, "0.00")
    assert "Every payment older than" in billing_client.get(URL).content.decode()


def test_a_new_organization_has_nothing_to_reconcile(billing_client):
    make_organization("Empty Co")
    assert "Every payment older than 3 days is shown in BMS." in billing_client.get(URL).content.decode()
