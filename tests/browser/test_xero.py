"""A Master Admin sets up Xero as a new user would, in headless Chromium: Settings (the redirect URI
shown to copy), Connect Xero, the sandbox's consent page (Allow access), back on the card, Test
Connection passes. Then the rest of the loop: a contact linked by hand on Unmatched in Xero, Xero's
PDF on an invoice page, and a client payment through Xero and BMS back to the portal, paid and
Reconciled."""

from __future__ import annotations

import re
import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from billing.models import Invoice
from connectbooster.celery import app
from integrations.models import Integration, SyncTrigger
from organizations.models import Contact, Organization
from payments.models import Payment, PaymentPosting, PostingStatus
from providers.xero.models import XeroContact, XeroInvoice
from tests.browser.conftest import sign_in
from tests.browser.test_payments import VISA, enter_card, status_of
from tests.conftest import CeleryWorker
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.integrations.sync.helpers import run_sync
from tests.payments.conftest import localstripe, localstripe_server, stripe_integration  # noqa: F401 - fixtures
from tests.payments.test_worker import payments_worker_env  # noqa: F401 - fixture
from tests.providers.xero.conftest import (  # noqa: F401 - fixtures
    xero_connected,
    xero_contract,
    xero_integration,
    xero_settings,
)
from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_connects_xero_through_the_consent_page(page, screenshot, live_server, xero_settings, xero_sandbox):  # noqa: F811
    xero_settings.PORTAL_BASE_URL = live_server.url  # the redirect URI comes back to this server
    UserFactory(email="owner@msp.example", role="master_admin")
    sign_in(page, "owner@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Integrations").click()
    card = page.locator("#card-xero")
    expect(card).to_contain_text("Not configured")
    card.get_by_role("link", name="Set up Xero").click()

    expect(page.get_by_test_id("xero-redirect-uri")).to_have_value(f"{live_server.url}/integrations/xero/callback/")
    page.get_by_label("Client ID").fill(xero_sandbox.client_id)
    page.get_by_label("Client Secret").fill(xero_sandbox.client_secret)
    page.get_by_label("Payment account").fill("615")
    screenshot("xero-01-settings")
    page.get_by_role("button", name="Save").click()

    card.get_by_role("button", name="Connect Xero").click()
    expect(page.get_by_role("button", name="Allow access")).to_be_visible()
    screenshot("xero-02-consent-page")
    page.get_by_role("button", name="Allow access").click()

    expect(page.get_by_text("Xero is connected to Demo MSP")).to_be_visible()
    card.get_by_role("button", name="Xero menu").click()
    card.get_by_role("button", name="Test Connection").click()
    expect(page.get_by_text("Xero: every check passed.")).to_be_visible()
    expect(card.get_by_test_id("connection-checks").locator("li[data-passed='true']")).to_have_count(8)
    expect(card.get_by_test_id("card-action")).to_contain_text("Unmatched in Xero")
    screenshot("xero-03-connected-and-tested")


@pytest.fixture
def worker_with_xero(payments_worker_env, xero_settings):  # noqa: F811
    """A real Celery worker that reaches localstripe and the Xero sandbox (started by the test)."""
    app.control.purge()
    env = {
        **payments_worker_env,
        "XERO_API_BASE_URL": xero_settings.XERO_API_BASE_URL,
        "XERO_IDENTITY_URL": xero_settings.XERO_IDENTITY_URL,
        "XERO_AUTHORIZE_URL": xero_settings.XERO_AUTHORIZE_URL,
        "XERO_CONNECTIONS_URL": xero_settings.XERO_CONNECTIONS_URL,
    }
    running = CeleryWorker(env)
    yield running
    if running.alive:
        running.stop()


def _wait_for(check, *, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def test_link_a_contact_see_the_xero_pdf_and_follow_a_client_payment_to_xero_bms_and_back(  # noqa: PLR0915 - one story
    page,
    browser,
    live_server,
    screenshot,
    xero_connected,  # noqa: F811
    xero_sandbox,  # noqa: F811
    bms_sandbox,
    bms_integration,
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    worker_with_xero,
):
    """Unmatched in Xero: link a contact by hand. Invoice Image Data: Xero first, and the invoice page
    shows Xero's PDF. A client pays in the browser, the worker posts the payment to Xero, the BMS sandbox
    imports it (its Xero integration, by control call), and after a BMS sync the invoice is paid and the
    payment Reconciled."""
    assert run_sync(bms_integration).status == "succeeded"
    Integration.objects.filter(pk=xero_connected.pk).update(last_test_passed=True, last_test_at=timezone.now())
    assert run_sync(xero_connected).status == "succeeded"
    contact = XeroContact.objects.filter(match="", status="ACTIVE", deleted_at__isnull=True).order_by("name").first()
    assert contact is not None
    # Xero names some contacts differently from BMS: the organization that shares the first word, if any.
    organizations = Organization.objects.filter(deleted_at__isnull=True).order_by("name")
    target = organizations.filter(name__icontains=contact.name.split()[0]).first() or organizations.first()
    # Two invoices of one organization that both systems show open for the same amount: the client pays
    # the first; on the second, Xero records a cheque BMS does not know of.
    due = {i.invoice_number: i.amount_due for i in XeroInvoice.objects.filter(status="AUTHORISED")}
    agreeing: dict[int, list[Invoice]] = {}
    for candidate in Invoice.objects.filter(number__in=list(due), balance_due__gt=100, deleted_at__isnull=True):
        if candidate.balance_due == due[candidate.number]:
            agreeing.setdefault(candidate.organization_id, []).append(candidate)
    invoice, cheque_paid = next(sorted(found, key=lambda i: i.pk)[:2] for found in agreeing.values() if len(found) > 1)
    UserFactory(email="owner@msp.example", role="master_admin")
    # The client is one of the organization's BMS contacts (a BMS sync revokes anyone else's access).
    bms_contact = (
        Contact.objects.filter(organization=invoice.organization, is_active=True, deleted_at__isnull=True)
        .exclude(email="")
        .order_by("pk")
        .first()
    )
    UserFactory(email=bms_contact.email, role=Role.CLIENT_CONTACT, organization=invoice.organization)

    # 1. Link an unmatched Xero contact by hand.
    sign_in(page, "owner@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Integrations").click()
    page.locator("#card-xero").get_by_role("link", name=re.compile(r"Unmatched in Xero")).click()
    expect(page.get_by_role("heading", name="Unmatched in Xero")).to_be_visible()
    page.get_by_label("Search Xero contacts").fill(contact.name)
    page.get_by_label("Search organizations").fill(target.name)
    page.get_by_role("button", name="Search").click()
    page.get_by_test_id("unmatched-contacts").get_by_label(contact.name, exact=True).check()
    page.get_by_test_id("organizations").get_by_label(target.name, exact=True).check()
    screenshot("xero-04-unmatched-chosen")
    page.get_by_role("button", name="Link").click()
    expect(page.get_by_text(f"Linked the Xero contact {contact.name} to {target.name}.")).to_be_visible()
    expect(page.get_by_test_id("linked-contacts")).to_contain_text(contact.name)
    expect(page.get_by_test_id("linked-contacts")).to_contain_text(target.name)
    screenshot("xero-05-linked-by-hand")
    contact.refresh_from_db()
    assert (contact.organization_id, contact.match) == (target.pk, "link")

    # 2. Xero first in Invoice Image Data: the invoice page shows Xero's PDF.
    page.get_by_role("link", name="Billing › Invoice Image Data").click()
    rows = page.locator("#image-sources li.image-source")
    expect(rows.first).to_have_attribute("data-key", "psa")  # the default order: BMS, Xero, the portal's
    page.get_by_role("button", name="Move Xero up").click()
    expect(rows.first).to_have_attribute("data-key", "accounting")
    page.get_by_test_id("save-image-sources").click()
    expect(page.get_by_text("Invoice Image Data saved.")).to_be_visible()
    page.goto(f"/billing/invoices/{invoice.pk}/")
    expect(page.get_by_test_id("invoice-image")).to_have_attribute("data-source", "accounting")
    expect(page.get_by_test_id("image-source")).to_have_text("Image from Xero")
    pdf = page.request.get(page.get_by_role("link", name="Open").get_attribute("href"))
    assert pdf.headers["x-invoice-image-source"] == "accounting" and pdf.body().startswith(b"%PDF")
    screenshot("xero-06-invoice-shows-the-xero-pdf")

    # 3. Balances agree: a 100.00 cheque entered in Xero only. After a Xero sync staff see the two
    # disagree, and the client can pay only what Xero shows.
    cheque_in_xero = XeroInvoice.objects.get(invoice_number=cheque_paid.number, status="AUTHORISED")
    xero_sandbox.control.mutate("payment.create", invoice=cheque_in_xero.bms_id, amount=100.0, reference="cheque")
    assert run_sync(xero_connected, trigger=SyncTrigger.RECONCILE).status == "succeeded"
    xero_due = cheque_paid.balance_due - 100
    page.goto(f"/billing/invoices/{cheque_paid.pk}/")
    expect(page.get_by_test_id("balance-disagreement")).to_contain_text(
        f"Xero shows ${xero_due:,.2f} due, BMS ${cheque_paid.balance_due:,.2f}."
    )
    screenshot("xero-07-balances-disagree")

    # 4. The client pays the invoice in full with a new card; the worker charges and posts to Xero.
    client_context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 900})
    client_page = client_context.new_page()
    client_page.set_default_timeout(15_000)
    try:
        sign_in(client_page, bms_contact.email, DEFAULT_PASSWORD)
        row_of_cheque_paid = (
            client_page.get_by_test_id("client-invoice-table").get_by_role("row").filter(has_text=cheque_paid.number)
        )
        expect(row_of_cheque_paid.get_by_test_id("balance-due")).to_have_text(f"${xero_due:,.2f}")
        screenshot("xero-08-client-sees-the-lower-amount", of=client_page)
        client_page.goto(f"/portal/pay/?invoice={invoice.pk}")
        expect(client_page.get_by_label(f"Pay invoice {invoice.number}")).to_be_checked()
        enter_card(client_page, VISA)
        client_page.get_by_role("button", name="Pay", exact=True).click()
        expect(status_of(client_page)).to_contain_text("Payment processing")
        worker_with_xero.start()
        expect(status_of(client_page)).to_contain_text("Paid", timeout=30_000)
        payment = Payment.objects.get()
        _wait_for(lambda: PaymentPosting.objects.filter(payment=payment, status=PostingStatus.POSTED).exists())
        worker_with_xero.stop()
        row = PaymentPosting.objects.get(payment=payment)

        # 5. The payment is in the Xero sandbox.
        page.goto(f"{xero_sandbox.url}/")
        expect(page.get_by_role("row").filter(has_text=row.reference)).to_contain_text(invoice.number)
        screenshot("xero-09-payment-in-the-xero-sandbox")

        # 6. BMS imports it from Xero, the next BMS sync shows the invoice paid and the payment Reconciled.
        imported = bms_sandbox.control.xero_import(xero_sandbox.url)["imported"]
        assert row.external_id in [p["PaymentID"] for p in imported]
        assert run_sync(bms_integration).status == "succeeded"
        page.goto(f"/payments/{payment.pk}/")
        allocations = page.get_by_test_id("payment-allocations")
        expect(allocations).to_contain_text(invoice.number)
        expect(allocations.locator(".badge")).to_have_text("Reconciled")
        expect(page.get_by_test_id("payment-postings")).to_contain_text("Posted")
        screenshot("xero-10-payment-reconciled")
        client_page.goto("/portal/invoices/?state=paid")
        row = client_page.get_by_test_id("client-invoice-table").get_by_role("row").filter(has_text=invoice.number)
        expect(row.get_by_test_id("balance-due")).to_have_text("$0.00")
        screenshot("xero-11-client-sees-it-paid", of=client_page)
        client_page.goto(f"/portal/invoices/{invoice.pk}/")
        expect(client_page.locator(".badge", has_text="Paid").first).to_be_visible()
        expect(client_page.get_by_test_id("invoice-pay")).to_have_count(0)  # nothing left to pay
        screenshot("xero-12-client-invoice-paid", of=client_page)
    finally:
        client_context.close()
