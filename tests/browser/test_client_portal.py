"""Staff invite a synced contact; the contact accepts, finds an invoice, views it and comments."""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Role
from billing.models import InvoiceComment
from organizations.models import Contact
from tests.billing.factories import ContactFactory, InvoiceFactory, InvoiceLineFactory, OrganizationFactory
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_contact_is_invited_signs_in_and_comments_on_an_invoice(page, screenshot, live_server, tasks_run_at_once):
    org = OrganizationFactory(name="Globex Corporation")
    other = OrganizationFactory(name="Initech")
    ContactFactory(organization=org, first_name="Dana", last_name="Scully", email="dana@globex.example", is_poc=True)
    invoices = InvoiceFactory.create_batch(3, organization=org)
    InvoiceLineFactory(invoice=invoices[0], source=invoices[0].source, name="Managed firewall")
    InvoiceFactory(organization=other, number="INV-INITECH")
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.goto("/accounts/client-access/")
    page.get_by_label("Organization").select_option(label="Globex Corporation")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("portal-status")).to_contain_text("Not invited")
    page.get_by_test_id("invite-all").click()
    expect(page.get_by_text("1 invitation queued")).to_be_visible()
    expect(page.get_by_test_id("portal-status")).to_contain_text("Invited")
    screenshot("client-portal-01-staff-invited")
    page.get_by_role("button", name="Sign out").click()

    [message] = mail.outbox
    link = re.search(r"https?://\S+(/accounts/invitation/#\S+)", message.body).group(1)
    page.goto(link)
    expect(page.get_by_text("dana@globex.example")).to_be_visible()
    screenshot("client-portal-02-invitation")
    page.get_by_label("Choose a password").fill("blue-harbor-lantern-42")
    page.get_by_label("Repeat the password").fill("blue-harbor-lantern-42")
    page.get_by_role("button", name="Set password and sign in").click()
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    table = page.get_by_test_id("client-invoice-table")
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table).not_to_contain_text("INV-INITECH")
    screenshot("client-portal-03-invoices")

    page.get_by_placeholder("Search by number").fill(invoices[0].number)
    page.get_by_role("button", name="Search").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    page.get_by_role("link", name=invoices[0].number).click()
    expect(page.get_by_test_id("invoice-image")).to_have_attribute("data-source", "portal")
    expect(page.get_by_test_id("invoice-lines")).to_contain_text("Managed firewall")
    page.get_by_label("Question or comment about this invoice").fill("Is the firewall line prorated?")
    page.get_by_role("button", name="Send comment").click()
    expect(page.get_by_text("Your comment was sent to the billing team.")).to_be_visible()
    expect(page.get_by_test_id("comment")).to_contain_text("Is the firewall line prorated?")
    screenshot("client-portal-04-invoice-with-comment")
    assert InvoiceComment.objects.get().author.email == "dana@globex.example"

    # Another organization's invoice is not there, whatever the URL.
    foreign = other.invoices.get()
    response = page.goto(f"/portal/invoices/{foreign.pk}/")
    assert response.status == 404
    assert Contact.objects.count() == 1
