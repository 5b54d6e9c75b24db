"""E-mails speak the BMS tenant's currency and formats, as the pages do."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from integrations.locale import forget_tenant_locale
from notifications.models import Notification
from notifications.rendering import email_bodies, email_subject
from notifications.types import NotificationKind
from tests.billing.factories import InvoiceFactory, OrganizationFactory

NBSP = "\u00a0"


@pytest.fixture
def german_invoice(db, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    organization = OrganizationFactory(name="Müller & Söhne GmbH", currency="EUR")
    source = organization.source
    source.currency_code, source.culture_code, source.date_format = "EUR", "de-DE", "dd.MM.yyyy"
    source.save()
    forget_tenant_locale()
    berlin = ZoneInfo("Europe/Berlin")
    return InvoiceFactory(
        organization=organization,
        number="RE-2026-0042",
        currency="EUR",
        invoice_date=datetime(2026, 3, 5, 0, 30, tzinfo=berlin),  # 4 March in UTC: shown in Berlin
        due_date=datetime(2026, 4, 4, 9, tzinfo=berlin),
        total=Decimal("12345.60"),
        balance_due=Decimal("12345.60"),
    )


def test_a_new_invoice_email_in_de_de_and_euros(german_invoice):
    notification = Notification.objects.create(
        kind=NotificationKind.NEW_INVOICE, organization=german_invoice.organization, invoice=german_invoice
    )
    assert email_subject(notification) == "New invoice RE-2026-0042 from Demo MSP"
    text, html = email_bodies(notification)
    for body in (text, html):
        assert f"12.345,60{NBSP}€" in body and "05.03.2026" in body and "04.04.2026" in body
        assert "12,345.60" not in body and "2026-04-04" not in body


def test_a_payment_email_names_the_payments_own_currency(german_invoice):
    notification = Notification.objects.create(
        kind=NotificationKind.PAYMENT_SUCCESSFUL,
        organization=german_invoice.organization,
        invoice=german_invoice,
        context={"amount": "1500.000", "currency": "CHF"},
    )
    assert email_subject(notification) == "Payment received: 1.500,00 CHF"  # a subject is one plain line
    text, _html = email_bodies(notification)
    assert f"payment of 1.500,00{NBSP}CHF" in text
