"""A client of a German MSP (BMS tenant de-DE, EUR, dd.MM.yyyy) sees amounts and dates as
Germans write them, on the invoice list and on an invoice."""

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from integrations.locale import forget_tenant_locale
from tests.billing.factories import InvoiceFactory, InvoiceLineFactory, OrganizationFactory
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_german_tenants_client_sees_euros_and_german_dates(page, screenshot, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    organization = OrganizationFactory(name="Müller & Söhne GmbH", currency="EUR")
    organization.source.currency_code, organization.source.culture_code = "EUR", "de-DE"
    organization.source.date_format = "dd.MM.yyyy"
    organization.source.save()
    forget_tenant_locale()
    berlin = ZoneInfo("Europe/Berlin")
    open_invoice = InvoiceFactory(
        organization=organization,
        number="RE-2026-0042",
        currency="EUR",
        invoice_date=datetime(2026, 3, 5, 9, tzinfo=berlin),
        due_date=datetime(2026, 4, 4, 9, tzinfo=berlin),
        total=Decimal("12345.60"),
        tax=Decimal("1971.08"),
        balance_due=Decimal("12345.60"),
    )
    InvoiceLineFactory(
        invoice=open_invoice, source=open_invoice.source, name="Managed Services", unit_price=Decimal("5187.26")
    )
    InvoiceFactory(
        organization=organization,
        number="RE-2026-0017",
        currency="EUR",
        invoice_date=datetime(2026, 1, 9, 9, tzinfo=berlin),
        due_date=datetime(2026, 2, 8, 9, tzinfo=berlin),
        total=Decimal("980.00"),
        tax=Decimal("156.47"),
        paid_amount=Decimal("980.00"),
        balance_due=Decimal("0"),
    )
    UserFactory(email="anna@mueller.example", role=Role.CLIENT_CONTACT, organization=organization)

    sign_in(page, "anna@mueller.example", DEFAULT_PASSWORD)
    page.goto("/portal/")
    row = page.get_by_role("row").filter(has_text="RE-2026-0042")
    expect(row).to_contain_text("12.345,60\u00a0€")
    expect(row).to_contain_text("05.03.2026")
    expect(row).to_contain_text("04.04.2026")
    expect(page.get_by_role("row").filter(has_text="RE-2026-0017")).to_contain_text("0,00\u00a0€")
    screenshot("client-invoices-de-DE", readme="client-invoices-de-DE")

    page.get_by_role("link", name="RE-2026-0042").first.click()
    expect(page.get_by_test_id("balance-due")).to_have_text("12.345,60\u00a0€")
    expect(page.get_by_text("5.187,26\u00a0€")).to_be_visible()
    screenshot("client-invoice-de-DE")
