"""Autopay in Chromium against localstripe: a client turns on autopay with a saved card and sees
their invoice AutoPay eligible; staff make the rule wait for approval, find the charge on the
payments calendar and approve it on Autopay approvals; the next run charges it once."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from payments import autopay, services
from payments.models import AutopayRule, Payment, PaymentStatus, ScheduledCharge, ScheduledChargeStatus
from tests.browser.conftest import PHONE, assert_no_sideways_scroll, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    make_invoice,
    make_organization,
    save_card,
    stripe_integration,
    succeeded_charges,
)
from tests.stripe_client.conftest import localstripe, localstripe_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_client_turns_on_autopay_and_staff_approve_the_charge(
    page,
    browser,
    live_server,
    screenshot,
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
):
    organization = make_organization("Globex Corporation")
    save_card(localstripe, organization)
    invoice = make_invoice(organization, "42.00", number="INV-AUTO-1")
    UserFactory(email="dana@globex.example", role=Role.CLIENT_CONTACT, organization=organization)
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)

    # The client: Autopay > a rule on the saved card, charging on the invoice date.
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Autopay").click()
    expect(page.get_by_role("heading", name="Autopay")).to_be_visible()
    page.get_by_label("Pay with").select_option(label="Visa ···· 4242")
    page.get_by_label("When").select_option(label="Days after the invoice date")
    page.get_by_label("Days after the invoice date").fill("0")
    page.get_by_role("button", name="Turn on autopay").click()
    expect(page.get_by_text("Autopay is on")).to_be_visible()
    expect(page.get_by_test_id("autopay-rules")).to_contain_text("Visa ···· 4242, on the invoice date")
    screenshot("autopay-01-client-rule")
    page.get_by_role("link", name="Invoices").first.click()
    expect(page.get_by_test_id("autopay-eligible")).to_have_count(1)
    page.get_by_role("link", name="INV-AUTO-1").click()
    expect(page.get_by_test_id("invoice-autopay")).to_contain_text("Rule 1 pays it with Visa ···· 4242")
    page.get_by_role("button", name="Sign out").click()

    # Staff: the organization's Autopay, the rule made to wait for approval and locked.
    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.goto(f"/organizations/{organization.pk}/")
    page.get_by_test_id("organization-autopay").get_by_role("link", name="Autopay").click()
    page.get_by_role("link", name="Edit").click()
    page.get_by_label("Charges wait for approval").check()
    page.get_by_label("Locked (the client cannot change it)").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("autopay-rules")).to_contain_text("Charges wait for approval")
    rule = AutopayRule.objects.get()
    assert rule.requires_approval and rule.locked

    autopay.autopay_evaluate()  # the daily run: the charge waits
    charge = ScheduledCharge.objects.get()
    assert charge.status == ScheduledChargeStatus.AWAITING_APPROVAL and Payment.objects.count() == 0

    page.get_by_role("link", name="Payments calendar").click()
    entry = page.get_by_test_id("calendar-entry").filter(has_text="INV-AUTO-1")
    expect(entry).to_contain_text("Globex Corporation")
    expect(entry).to_contain_text("42.00")
    expect(entry.get_by_test_id("approval-pending")).to_be_visible()
    screenshot("autopay-02-payments-calendar")

    page.get_by_role("link", name="Autopay approvals").first.click()
    item = page.locator(f"[data-charge='{charge.pk}']")
    expect(item).to_contain_text("INV-AUTO-1")
    screenshot("autopay-03-approvals")
    item.get_by_role("button", name="Approve").click()
    expect(page.get_by_text("Autopay of invoice INV-AUTO-1 approved.")).to_be_visible()
    expect(page.get_by_text("No charges wait for approval.")).to_be_visible()

    autopay.autopay_evaluate()  # the next run charges the approved charge, once
    autopay.autopay_evaluate()
    payment = Payment.objects.get()
    services.payment_charge(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [4200]
    assert [a.invoice_id for a in payment.allocations.all()] == [invoice.pk]

    # On a phone, the calendar reads without scrolling sideways.
    phone = browser.new_context(base_url=live_server.url, viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    sign_in(phone, "books@msp.example", DEFAULT_PASSWORD)
    phone.goto(f"/payments/calendar/?month={timezone.localdate():%Y-%m}")
    expect(phone.get_by_test_id("calendar-entry").first).to_be_visible()
    assert_no_sideways_scroll(phone)
    screenshot("autopay-04-calendar-phone", of=phone)
    phone.context.close()

    # The client now sees the rule locked.
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.goto("/portal/autopay/")
    expect(page.get_by_test_id("autopay-rules")).to_contain_text("Locked by your service provider")
    expect(page.get_by_test_id("autopay-rules").get_by_role("link", name="Edit")).to_have_count(0)
