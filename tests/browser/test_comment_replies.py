"""A client asks about an invoice; Billing staff reply on the staff invoice page; the client sees
the thread on their invoice page (desktop and phone) and is e-mailed about the reply."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Role
from billing.services import invoice_comment_create
from tests.billing.factories import InvoiceFactory, InvoiceLineFactory, OrganizationFactory
from tests.browser.conftest import PHONE, assert_no_sideways_scroll, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_reply_and_the_client_sees_the_thread(page, browser, live_server, screenshot, tasks_run_at_once):
    organization = OrganizationFactory(name="Globex Corporation")
    invoice = InvoiceFactory(organization=organization, number="INV-GLOBEX-7")
    InvoiceLineFactory(invoice=invoice, source=invoice.source, name="Offsite backup", total=120)
    dana = UserFactory(
        role=Role.CLIENT_CONTACT, organization=organization, email="dana@globex.example", full_name="Dana Scully"
    )
    invoice_comment_create(invoice=invoice, author=dana, body="Why is the offsite backup billed twice?")
    UserFactory(role=Role.BILLING_STAFF, email="books@msp.example", full_name="Bea Books")

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.goto(f"/billing/invoices/{invoice.pk}/")
    thread = page.get_by_test_id("comment")
    expect(thread).to_have_count(1)
    expect(thread.first).to_contain_text("Dana Scully")
    page.get_by_role("button", name="Send reply").click()  # empty: refused, nothing saved
    expect(page.get_by_text("Write a reply before sending it.")).to_be_visible()
    expect(page.get_by_label("Reply to the client")).to_have_attribute("aria-describedby", "id_body_help id_body_error")
    page.get_by_label("Reply to the client").fill("One copy is the March renewal; I have credited the other.")
    page.get_by_role("button", name="Send reply").click()
    expect(page.get_by_text("Your reply was added; the client is e-mailed about it.")).to_be_visible()
    expect(thread).to_have_count(2)
    expect(thread.nth(1)).to_contain_text("Bea Books")
    expect(thread.nth(1)).to_contain_text("billing team")
    page.locator("#comments").scroll_into_view_if_needed()
    screenshot("comment-replies-01-staff-replied")

    replies = [m for m in mail.outbox if "Reply about invoice INV-GLOBEX-7" in m.subject]
    assert len(replies) == 1 and replies[0].to == ["dana@globex.example"]

    for name, viewport in (("desktop", None), ("phone", PHONE)):
        context = browser.new_context(base_url=live_server.url, **({"viewport": viewport} if viewport else {}))
        client_page = context.new_page()
        sign_in(client_page, "dana@globex.example", DEFAULT_PASSWORD)
        client_page.goto(f"/portal/invoices/{invoice.pk}/#comments")
        client_thread = client_page.get_by_test_id("comment")
        expect(client_thread).to_have_count(2)
        expect(client_thread.nth(0)).to_contain_text("Why is the offsite backup billed twice?")
        expect(client_thread.nth(1)).to_contain_text("I have credited the other.")
        expect(client_thread.nth(1)).to_contain_text("Bea Books")
        expect(client_page.get_by_label("Question or comment about this invoice")).to_be_visible()
        if viewport:
            assert_no_sideways_scroll(client_page)
        client_page.locator("#comments").scroll_into_view_if_needed()
        screenshot(f"comment-replies-02-client-sees-reply-{name}", of=client_page)
        context.close()
