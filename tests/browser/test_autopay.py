"""Autopay in Chromium against localstripe: a client turns on autopay with a saved card and sees
their invoice AutoPay eligible; staff make the rule wait for approval, find the charge on the
payments calendar and approve it on Autopay approvals; the next run charges it once."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from billing.models import Invoice
from payments import autopay, services
from payments.models import (
    AutopayRule,
    AutopayTiming,
    Payment,
    PaymentStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)
from tests.browser.conftest import PHONE, assert_no_sideways_scroll, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    make_invoice,
    make_organization,
    save_card,
    stripe_integration,
    succeeded_charges,
)
from tests.providers.stripe_client.conftest import localstripe, localstripe_server  # noqa: F401 (fixtures)

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


def test_the_payments_calendar_shows_next_months_autopay_charges(
    page,
    screenshot,
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
):
    """Several organizations' rules foresee charges over next month (always ahead of today),
    beside charges already held: one staff rescheduled into that month and one waiting for
    approval. The README shows this page."""
    today = timezone.localdate()
    month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)

    def invoice_due(organization, balance: str, number: str, day: int):
        invoice = make_invoice(organization, balance, number=number)
        due = timezone.make_aware(datetime.combine(month.replace(day=day), time(12)))
        Invoice.objects.filter(pk=invoice.pk).update(invoice_date=due - timedelta(days=30), due_date=due)
        return invoice

    globex = make_organization("Globex Corporation")
    autopay.rule_create(
        organization=globex,
        actor=None,
        by_client=False,
        method=save_card(localstripe, globex),
        timing=AutopayTiming.DAYS_BEFORE_DUE,
        days=3,
    )
    invoice_due(globex, "1250.00", "INV-5101", 8)
    invoice_due(globex, "310.40", "INV-5102", 22)
    initech = make_organization("Initech")
    autopay.rule_create(
        organization=initech,
        actor=None,
        by_client=False,
        method=save_card(localstripe, initech),
        timing=AutopayTiming.DAY_OF_MONTH,
        days=15,
        requires_approval=True,
    )
    invoice_due(initech, "4800.00", "INV-5201", 28)
    umbrella = make_organization("Umbrella Health")
    rule = autopay.rule_create(
        organization=umbrella,
        actor=None,
        by_client=False,
        method=save_card(localstripe, umbrella),
        timing=AutopayTiming.DAYS_AFTER_DUE,
        days=0,
        requires_approval=True,
    )
    for number, day, status, note in (
        ("INV-5301", 10, ScheduledChargeStatus.APPROVED, "Rescheduled by staff"),
        ("INV-5302", 12, ScheduledChargeStatus.AWAITING_APPROVAL, ""),
    ):
        held = invoice_due(umbrella, "975.00" if day == 10 else "86.90", number, day)
        ScheduledCharge.objects.create(
            rule=rule,
            organization=umbrella,
            invoice=held,
            slot=month.replace(day=day),
            charge_on=month.replace(day=day),
            status=status,
            note=note,
        )
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Payments calendar").click()
    page.get_by_role("link", name="Next month").click()
    expect(page.get_by_test_id("calendar-month")).to_have_text(f"{month:%B %Y}")
    entries = page.get_by_test_id("calendar-entry")
    expect(entries).to_have_count(5)
    day = page.locator(f"[data-day='{month.replace(day=5):%Y-%m-%d}']")
    expect(day).to_contain_text("Globex Corporation")
    expect(day).to_contain_text("INV-5101")
    expect(day).to_contain_text("1,250.00")
    expect(day).to_contain_text("Foreseen")
    approved = page.locator(f"[data-day='{month.replace(day=10):%Y-%m-%d}']")
    expect(approved).to_contain_text("Rescheduled by staff")
    expect(approved).to_contain_text("Approved")
    expect(
        page.locator(f"[data-day='{month.replace(day=12):%Y-%m-%d}']").get_by_test_id("approval-pending")
    ).to_have_text("Approval pending")
    expect(
        page.locator(f"[data-day='{month.replace(day=15):%Y-%m-%d}']").get_by_test_id("approval-pending")
    ).to_have_text("Will need approval")
    screenshot("autopay-05-calendar-next-month", readme="payments-calendar")
