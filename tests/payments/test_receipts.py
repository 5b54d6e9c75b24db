"""The payment receipt as a PDF: the same facts as the HTML receipt, in the portal's PDF fonts
(names in any script as written), for the client of the payment's organization and for staff;
nobody else, and not before money moved."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Role
from payments.models import Initiator, Payment, PaymentAllocation, PaymentMethod, PaymentStatus, Refund, RefundStatus
from tests.billing.pdf_text import embedded_fonts, read, shown_text
from tests.factories import UserFactory
from tests.payments.conftest import make_invoice, make_organization

POLISH, GREEK, JAPANESE = "Zażółć gęślą jaźń", "Ελληνικά", "日本語の名前"
RECEIVED = datetime(2026, 3, 14, 9, 26, tzinfo=timezone.get_default_timezone())


def received_payment(organization, *, status=PaymentStatus.PARTIALLY_REFUNDED, surcharge="2.50") -> Payment:
    """120.00 to two invoices with a Visa ending 4242, a 2.50 surcharge and a 20.00 refund done
    (and one that failed, which the receipt leaves out)."""
    method = PaymentMethod.objects.create(
        organization=organization,
        processor="stripe",
        processor_customer_id="cus_receipt",
        processor_method_id=f"pm_{uuid.uuid4().hex[:12]}",
        kind="card",
        brand="visa",
        last4="4242",
        funding="credit",
    )
    payment = Payment.objects.create(
        organization=organization,
        method=method,
        amount=Decimal("120.00"),
        surcharge=Decimal(surcharge),
        currency="EUR",
        status=status,
        processor="stripe",
        processor_intent_id="pi_receipt",
        idempotency_key=f"receipt-{uuid.uuid4().hex}",
        initiated_by=Initiator.CLIENT,
        succeeded_at=RECEIVED,
        refunded_amount=Decimal("20.00") if status == PaymentStatus.PARTIALLY_REFUNDED else Decimal("0"),
    )
    for number, amount in (("INV-€-1001", "100.00"), (f"{JAPANESE}-7", "20.00")):
        invoice = make_invoice(organization, amount, number=number)
        PaymentAllocation.objects.create(
            payment=payment, invoice=invoice, amount=Decimal(amount), balance_before=invoice.balance_due
        )
    if status == PaymentStatus.PARTIALLY_REFUNDED:
        for refund_status, amount in ((RefundStatus.SUCCEEDED, "20.00"), (RefundStatus.FAILED, "99.00")):
            Refund.objects.create(
                payment=payment,
                amount=Decimal(amount),
                reason="Service credit",
                status=refund_status,
                idempotency_key=f"refund-{uuid.uuid4().hex}",
                created_at=datetime(2026, 3, 20, 15, 5, tzinfo=timezone.get_default_timezone()),
            )
    return payment


@pytest.fixture
def organization(db):
    return make_organization(f"{POLISH} Sp. z o.o.")


@pytest.fixture
def web(organization) -> Client:
    client = Client()
    client.force_login(UserFactory(role=Role.CLIENT_CONTACT, organization=organization))
    return client


def test_the_client_downloads_the_receipt_as_a_pdf_with_what_the_page_shows(web, organization, settings):
    settings.MSP_NAME = f"{GREEK} IT €"
    payment = received_payment(organization)

    page = web.get(f"/portal/payments/{payment.pk}/receipt/").content.decode()
    answer = web.get(f"/portal/payments/{payment.pk}/receipt/pdf/")

    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"] == f'attachment; filename="receipt-P-{payment.pk}.pdf"'
    assert answer["Cache-Control"] == "private, no-store"
    assert f'href="/portal/payments/{payment.pk}/receipt/pdf/"' in page and "Download PDF" in page
    reader, text = read(answer.content)
    shown = shown_text(answer.content)
    facts = [
        f"{GREEK} IT €",  # the MSP
        f"{POLISH} Sp. z o.o.",  # the organization
        f"P-{payment.pk}",
        "2026-03-14 09:26",
        "Visa ···· 4242",
        "Partially refunded",
        "INV-€-1001",
        f"{JAPANESE}-7",
        "100.00",
        "Card surcharge",
        "2.50",
        "122.50",  # total paid
        "Amount (EUR)",
        "2026-03-20 15:05",  # the refund
        "20.00",
    ]
    for fact in facts:
        assert fact in page, fact  # the HTML receipt says it...
        assert fact in text and fact in shown, fact  # ...and so does the PDF, as written
    for fact in ("Total paid €122.50", "Refunded €20.00", "Card surcharge €2.50", f"{JAPANESE}-7 €20.00"):
        assert fact in text, fact
    assert "99.00" not in text and "99.00" not in page  # the failed refund
    assert "?" not in text
    assert reader.metadata.title == f"Receipt P-{payment.pk}"
    assert set(embedded_fonts(reader)) == {"DejaVuSansBook", "DejaVuSansBold", "NotoSansCJKJP"}


def test_without_surcharge_or_refund_the_receipt_has_neither_line(web, organization):
    payment = received_payment(organization, status=PaymentStatus.SUCCEEDED, surcharge="0")
    _reader, text = read(web.get(f"/portal/payments/{payment.pk}/receipt/pdf/").content)
    assert "Total paid €120.00" in text and "Succeeded" in text
    assert "surcharge" not in text and "Refund" not in text


def test_no_receipt_before_money_moved_nor_for_another_organization(web, organization):
    for status in (PaymentStatus.PENDING, PaymentStatus.PROCESSING, PaymentStatus.FAILED):
        payment = received_payment(organization, status=status)
        assert web.get(f"/portal/payments/{payment.pk}/receipt/pdf/").status_code == 404, status
        assert web.get(f"/portal/payments/{payment.pk}/receipt/").status_code == 404, status
    theirs = received_payment(make_organization("Other Co"))
    answer = web.get(f"/portal/payments/{theirs.pk}/receipt/pdf/")
    assert answer.status_code == 404 and answer["Content-Type"] != "application/pdf"
    assert web.get(f"/portal/payments/{theirs.pk}/receipt/").status_code == 404


def test_staff_download_any_organization_s_receipt_from_the_payment_page(billing_client, organization):
    payment = received_payment(organization)
    page = billing_client.get(f"/payments/{payment.pk}/").content.decode()
    assert f'href="/payments/{payment.pk}/receipt/pdf/"' in page
    answer = billing_client.get(f"/payments/{payment.pk}/receipt/pdf/")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    _reader, text = read(answer.content)
    assert f"{POLISH} Sp. z o.o." in text and "Total paid €122.50" in text

    pending = received_payment(organization, status=PaymentStatus.PENDING)
    assert "receipt/pdf" not in billing_client.get(f"/payments/{pending.pk}/").content.decode()
    assert billing_client.get(f"/payments/{pending.pk}/receipt/pdf/").status_code == 404
