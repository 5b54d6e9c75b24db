# ruff: noqa: F811 - pytest fixtures are imported and then requested by name
"""Balances agree: when the accounting package (Xero) shows less due on an invoice than BMS does, a
client can pay at most the lower amount (less the portal payments Xero does not show yet), sees only
that amount, and staff see the disagreement on the invoice page. Xero's figures are the stored ones
(no Xero call on a page): the rows are written here as the sync would write them."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.locale import tenant_locale
from integrations.models import DataSource, Integration
from payments import selectors
from payments.models import PaymentPosting, PostingStatus
from payments.services import PaymentRefused
from providers.xero.models import XeroInvoice
from tests.providers.xero.conftest import (  # noqa: F401 - fixtures
    xero_connected,
    xero_contract,
    xero_integration,
    xero_settings,
)
from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures

from .conftest import make_invoice, make_organization, save_card
from .test_views import contact, recorded  # noqa: F401 - contact is a fixture

pytestmark = pytest.mark.django_db
_ids = count(1)


@pytest.fixture
def xero(xero_connected):
    """Xero connected and passed its Test Connection (what "connected" asks for)."""
    Integration.objects.filter(pk=xero_connected.pk).update(last_test_passed=True, last_test_at=timezone.now())
    return xero_connected


def xero_says(number: str, amount_due: str, *, status: str = "AUTHORISED", currency: str = "USD", **fields):
    """Xero's invoice of that number as the sync stores it."""
    source = DataSource.objects.get(provider_key="xero")
    n = next(_ids)
    return XeroInvoice.objects.create(
        source=source,
        bms_id=f"00000000-0000-0000-0000-{n:012d}",
        sync_hash="x",
        synced_at=timezone.now(),
        invoice_number=number,
        status=status,
        currency=currency,
        total=Decimal("100.00"),
        amount_due=Decimal(amount_due),
        **fields,
    )


def test_the_most_a_client_may_pay_is_the_lower_of_bms_and_xero(xero, organization):
    lower_in_xero = make_invoice(organization, "100.00", number="INV-A")
    higher_in_xero = make_invoice(organization, "100.00", number="INV-B")
    voided_in_xero = make_invoice(organization, "100.00", number="INV-C")
    not_in_xero = make_invoice(organization, "100.00", number="INV-D")
    other_currency = make_invoice(organization, "100.00", number="INV-E")
    xero_says("INV-A", "80.00")
    xero_says("INV-B", "120.00")
    xero_says("INV-C", "0.00", status="VOIDED")
    xero_says("INV-E", "10.00", currency="EUR")  # not comparable: left out
    xero_says("INV-D", "5.00", status="DELETED")  # a deleted Xero invoice is no invoice
    states = selectors.unreflected_amounts([lower_in_xero, higher_in_xero, voided_in_xero, not_in_xero, other_currency])
    assert {pk: (s.payable, s.limited_by_accounting) for pk, s in states.items()} == {
        lower_in_xero.pk: (Decimal("80.00"), True),
        higher_in_xero.pk: (Decimal("100.00"), False),
        voided_in_xero.pk: (Decimal("0.00"), True),
        not_in_xero.pk: (Decimal("100.00"), False),
        other_currency.pk: (Decimal("100.00"), False),
    }


def test_paying_more_than_xero_shows_due_is_refused_and_records_nothing(
    xero, stripe_integration, localstripe, organization
):
    invoice = make_invoice(organization, "100.00", number="INV-A")
    voided = make_invoice(organization, "100.00", number="INV-V")
    xero_says("INV-A", "80.00")
    xero_says("INV-V", "0.00", status="VOIDED")
    method = save_card(localstripe, organization)
    with pytest.raises(PaymentRefused, match=r"INV-A: the most you can pay is the balance, \$80\.00\."):
        recorded(organization, invoice, method, "80.01")
    with pytest.raises(PaymentRefused, match="INV-V has nothing left to pay"):
        recorded(organization, voided, method, "1")
    assert organization.pk and not PaymentPosting.objects.exists()
    assert recorded(organization, invoice, method, "80.00").amount == Decimal("80.00")


def test_portal_payments_xero_does_not_show_yet_lower_its_figure_too(
    xero, stripe_integration, localstripe, organization
):
    invoice = make_invoice(organization, "100.00", number="INV-A")
    stored = xero_says("INV-A", "80.00")  # someone recorded 20.00 in Xero that BMS does not show
    method = save_card(localstripe, organization)
    payment = recorded(organization, invoice, method, "30.00")  # in flight: neither BMS nor Xero shows it
    state = selectors.invoice_payment_state(invoice)
    assert (state.unreflected, state.accounting_due, state.payable) == (
        Decimal("30.00"),
        Decimal("50.00"),
        Decimal("50.00"),
    )
    # Succeeded and its posting refused by Xero: still not in Xero's figure.
    payment.status = "succeeded"
    payment.save(update_fields=["status"])
    allocation = payment.allocations.get()
    row = PaymentPosting.objects.create(
        allocation=allocation, payment=payment, status=PostingStatus.REFUSED, amount=Decimal("30.00")
    )
    assert selectors.invoice_payment_state(invoice).payable == Decimal("50.00")
    # Posted: the posting moved the stored figure at once (providers/xero), and it is not taken twice.
    PaymentPosting.objects.filter(pk=row.pk).update(status=PostingStatus.POSTED)
    XeroInvoice.objects.filter(pk=stored.pk).update(amount_due=Decimal("50.00"))
    state = selectors.invoice_payment_state(invoice)
    assert (state.accounting_due, state.payable) == (Decimal("50.00"), Decimal("50.00"))


def test_without_a_connected_accounting_package_bms_alone_decides(xero, organization):
    invoice = make_invoice(organization, "100.00", number="INV-A")
    xero_says("INV-A", "80.00")
    Integration.objects.filter(pk=xero.pk).update(last_test_passed=False)
    DataSource.objects.filter(integration=xero).update(last_success_at=None)
    assert selectors.invoice_payment_state(invoice).payable == Decimal("100.00")


def test_staff_see_the_disagreement_on_the_invoice_and_the_client_only_the_lower_amount(
    xero, organization, contact, billing_client
):
    invoice = make_invoice(organization, "100.00", number="INV-A")
    agreeing = make_invoice(organization, "40.00", number="INV-B")
    xero_says("INV-A", "80.00")
    xero_says("INV-B", "40.00")
    staff_page = billing_client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert 'data-testid="balance-disagreement"' in staff_page
    assert "Xero shows $80.00 due, BMS $100.00." in staff_page
    agreeing_page = billing_client.get(reverse("billing:invoice", args=[agreeing.pk])).content.decode()
    assert 'data-testid="balance-disagreement"' not in agreeing_page

    web = Client()
    web.force_login(contact)
    listing = web.get(reverse("client:invoices")).content.decode()
    row = listing[listing.index(">INV-A<") :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="balance-due">$80.00</td>' in row and " less " not in row  # the total stays 100.00
    detail = web.get(reverse("client:invoice", args=[invoice.pk])).content.decode()
    assert "<strong>$80.00</strong> left to pay" in detail
    assert "Xero" not in listing and "Xero" not in detail


def _list_queries(web) -> int:
    tenant_locale()  # read once a minute per process, not per request
    with CaptureQueriesContext(connection) as queries:
        assert web.get(reverse("client:invoices") + "?state=open&q=INV").status_code == 200  # never cached
    return len(queries)


def test_the_client_list_asks_xero_s_figures_once_per_page(xero, client_user):
    small, large = make_organization("Small Ltd"), make_organization("Large Ltd")
    for organization, count_ in ((small, 3), (large, 60)):
        for n in range(count_):
            invoice = make_invoice(organization, "100.00", number=f"INV-{organization.pk}-{n}")
            xero_says(invoice.number, "90.00")
    counts = []
    for organization in (small, large):
        client_user.organization = organization
        client_user.save()
        web = Client()
        web.force_login(client_user)
        counts.append(_list_queries(web))
    assert counts[0] == counts[1], counts
    Integration.objects.filter(pk=xero.pk).delete()
    without_xero = _list_queries(web)
    # One query for the page's Xero figures (the integration lookup is made either way).
    assert counts[1] == without_xero + 1, (counts, without_xero)
