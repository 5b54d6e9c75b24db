"""Clients pay in Chromium through localstripe's fake Stripe.js (its card element is plain
inputs; its 3-D Secure box is a confirm/cancel dialog), a real Celery worker charges, and staff
refund.

No webhook reaches the live server here (localstripe is not told its address): the pages show
what the portal reads back from Stripe itself, the worker's charge and the status panel's and
the 3-D Secure return's refresh, which is what must work when webhooks lag or are lost."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
import requests
from playwright.sync_api import expect

from accounts.models import Role
from billing.models import Invoice
from connectbooster.celery import app
from payments import services
from payments.models import Initiator, Payment, PaymentMethod, PaymentStatus, ProcessorEvent
from tests.browser.conftest import sign_in
from tests.conftest import CeleryWorker
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    DECLINED_IBAN,
    intent_event,
    localstripe,
    localstripe_server,
    make_invoice,
    make_organization,
    save_card,
    signed_delivery,
    stripe_integration,
    stripe_list,
    succeeded_charges,
)
from tests.payments.test_worker import payments_worker_env  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

VISA = "4242424242424242"
DECLINED_WHEN_CHARGED = "4000000000000341"
DECLINED_WHEN_SAVED = "4000000000000002"
THREE_D_SECURE = "4000002760003184"  # Stripe's "always authenticate" (localstripe: 3-D Secure each time)
CLEAR_BY_WEBHOOK = "tests.payments.fault_collectors.BankDebitsClearByWebhook"


@pytest.fixture
def shop(payments_worker_env, localstripe):  # noqa: F811
    """An organization, its client contact, and the worker's environment (not started)."""
    app.control.purge()
    organization = make_organization("Globex Corporation")
    UserFactory(email="dana@globex.example", role=Role.CLIENT_CONTACT, organization=organization)
    return organization


@pytest.fixture
def worker(payments_worker_env):  # noqa: F811
    app.control.purge()
    running = CeleryWorker(payments_worker_env)
    running.start()
    yield running
    running.stop()


def enter_card(page, number: str) -> None:
    card = page.get_by_test_id("card-element")
    card.get_by_placeholder("number", exact=True).fill(number)
    card.get_by_placeholder("exp_month").fill("12")
    card.get_by_placeholder("exp_year").fill("34")  # the fake element prefixes "20"
    card.get_by_placeholder("cvc").fill("123")
    card.get_by_placeholder("postal_code").fill("10001")


def status_of(page):
    return page.get_by_test_id("payment-status")


def test_a_client_pays_one_invoice_with_a_new_card_and_sees_it_processing_then_paid(
    page,
    screenshot,
    shop,
    payments_worker_env,  # noqa: F811
    localstripe,  # noqa: F811
):
    invoice = make_invoice(shop, "120.50", number="INV-1001")
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.goto("/portal/invoices/")
    page.get_by_test_id("client-invoice-table").get_by_role("link", name="Pay").click()
    expect(page.get_by_role("heading", name="Pay invoices")).to_be_visible()
    expect(page.get_by_label("Pay invoice INV-1001")).to_be_checked()
    expect(page.get_by_label("A new card")).to_be_checked()
    enter_card(page, VISA)
    page.get_by_role("button", name="Pay", exact=True).click()

    # Recorded, not charged yet: no worker runs until the page has shown it in flight.
    expect(status_of(page)).to_contain_text("Payment processing")
    expect(status_of(page)).to_have_attribute("data-status", "pending")
    payment = Payment.objects.get()
    assert payment.amount == Decimal("120.50") and not payment.method.is_saved
    screenshot("payments-01-processing")

    worker = CeleryWorker(payments_worker_env)
    worker.start()
    try:
        expect(status_of(page)).to_contain_text("Paid", timeout=30_000)  # the panel polls every 2 s
    finally:
        worker.stop()
    expect(status_of(page)).to_have_attribute("data-status", "succeeded")
    screenshot("payments-02-paid")
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [12050]

    page.goto(f"/portal/invoices/{invoice.pk}/")
    expect(page.get_by_test_id("invoice-pay")).to_contain_text("0.00 left to pay")
    page.goto("/portal/payments/")
    expect(page.get_by_role("main")).to_contain_text("Succeeded")


def test_a_client_pays_two_invoices_together_with_a_saved_card(page, screenshot, shop, worker, localstripe):  # noqa: F811
    first = make_invoice(shop, "40.00", number="INV-2001")
    second = make_invoice(shop, "60.25", number="INV-2002")
    make_invoice(shop, "15.00", number="INV-2003")  # open, not chosen
    method = save_card(localstripe, shop)

    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.goto("/portal/invoices/")
    page.get_by_label("Select invoice INV-2001 to pay").check()
    page.get_by_label("Select invoice INV-2002 to pay").check()
    page.get_by_role("button", name="Pay selected invoices").click()
    expect(page.get_by_label("Pay invoice INV-2001")).to_be_checked()
    expect(page.get_by_label("Pay invoice INV-2002")).to_be_checked()
    expect(page.get_by_label("Pay invoice INV-2003")).not_to_be_checked()
    expect(page.get_by_label(re.compile(r"Visa ···· 4242"))).to_be_checked()
    expect(page.get_by_test_id("card-element")).to_be_hidden()
    screenshot("payments-03-two-invoices", readme="client-pays")
    page.get_by_role("button", name="Pay", exact=True).click()

    expect(status_of(page)).to_contain_text("Paid", timeout=30_000)
    expect(status_of(page)).to_contain_text("INV-2001")
    expect(status_of(page)).to_contain_text("INV-2002")
    payment = Payment.objects.get()
    assert payment.method == method and payment.amount == Decimal("100.25")
    assert sorted(a.invoice_id for a in payment.allocations.all()) == [first.pk, second.pk]
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [10025]


def test_a_declined_card_shows_the_decline_and_records_nothing_paid(page, screenshot, shop, worker, localstripe):  # noqa: F811
    invoice = make_invoice(shop, "80.00", number="INV-3001")
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)

    # Declined when Stripe.js saves it: the form says so and the portal records nothing.
    page.goto(f"/portal/pay/?invoice={invoice.pk}")
    enter_card(page, DECLINED_WHEN_SAVED)
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(page.locator("#card-errors")).to_contain_text(re.compile(r"declined", re.I))
    expect(page.get_by_role("button", name="Pay", exact=True)).to_be_enabled()
    screenshot("payments-04-declined-at-entry")
    assert not Payment.objects.exists()

    # Accepted when saved, declined when charged: the payment fails and nothing is paid.
    enter_card(page, DECLINED_WHEN_CHARGED)
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(status_of(page)).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(page.get_by_test_id("payment-failure")).to_contain_text("Nothing was charged")
    expect(page.get_by_test_id("payment-failure")).to_contain_text(re.compile(r"declined", re.I))
    screenshot("payments-05-declined-when-charged")
    assert Payment.objects.get().status == PaymentStatus.FAILED
    assert succeeded_charges(localstripe) == []
    page.get_by_role("link", name="Try again").click()
    expect(page.get_by_label("Pay invoice INV-3001")).to_be_checked()
    expect(page.get_by_label("Amount to pay on invoice INV-3001")).to_have_value("80.00")
    assert Invoice.objects.get(pk=invoice.pk).balance_due == Decimal("80.00")


def test_three_d_secure_confirmed_pays_and_cancelled_does_not(page, screenshot, shop, worker, localstripe):  # noqa: F811
    confirmed = make_invoice(shop, "55.00", number="INV-4001")
    cancelled = make_invoice(shop, "66.00", number="INV-4002")
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)

    page.goto(f"/portal/pay/?invoice={confirmed.pk}")
    enter_card(page, THREE_D_SECURE)
    page.get_by_label("Save this card for future payments").check()
    page.get_by_role("button", name="Pay", exact=True).click()
    # Saving the card: the bank's box (localstripe's), answered yes.
    page.get_by_role("button", name="Complete authentication").click()
    # Charging it: the bank asks again, the page offers to confirm.
    expect(page.get_by_test_id("payment-action")).to_contain_text("confirm this payment", timeout=30_000)
    screenshot("payments-06-needs-confirmation")
    page.get_by_role("button", name="Confirm payment").click()
    page.get_by_role("button", name="Complete authentication").click()
    expect(status_of(page)).to_have_attribute("data-status", "succeeded", timeout=30_000)
    first = Payment.objects.get()
    assert first.status == PaymentStatus.SUCCEEDED and not first.action_required
    assert first.method.is_saved

    # The saved card again; this time the client cancels the bank's box.
    page.goto(f"/portal/pay/?invoice={cancelled.pk}")
    expect(page.get_by_label(re.compile(r"Visa ···· 3184"))).to_be_checked()
    page.get_by_role("button", name="Pay", exact=True).click()
    page.get_by_role("button", name="Confirm payment").click(timeout=30_000)
    page.get_by_role("button", name="Fail authentication").click()
    expect(status_of(page)).not_to_have_attribute("data-status", "succeeded")
    expect(status_of(page)).to_have_attribute("data-status", "failed", timeout=30_000)
    screenshot("payments-07-authentication-cancelled")
    second = Payment.objects.exclude(pk=first.pk).get()
    assert second.status == PaymentStatus.FAILED
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [5500]


def test_a_client_saves_a_card_on_the_payment_methods_page(page, screenshot, shop, localstripe):  # noqa: F811
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.goto("/portal/payment-methods/")
    expect(page.get_by_test_id("payment-methods")).to_contain_text("No saved payment methods")
    enter_card(page, VISA)
    page.get_by_role("button", name="Add card").click()
    expect(page.get_by_text("Visa ···· 4242 was added.")).to_be_visible()
    expect(page.get_by_test_id("payment-methods")).to_contain_text("Default")
    screenshot("payments-08-card-saved")
    method = PaymentMethod.objects.get()
    assert method.is_saved and method.is_default and method.last4 == "4242"
    # Turning autopay on is the Autopay page's (another change); its browser test covers it.


def test_staff_refund_part_of_a_payment(page, screenshot, shop, localstripe):  # noqa: F811
    invoice = make_invoice(shop, "200.00", number="INV-5001")
    method = save_card(localstripe, shop)
    payment = services.payment_create(
        organization=shop,
        amounts=[services.InvoiceAmount(invoice.pk, Decimal("200.00"))],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="browser-refund",
    )
    app.control.purge()  # charged here instead of by a worker
    assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.goto("/payments/")
    expect(page.get_by_role("main")).to_contain_text("Globex Corporation")
    screenshot("payments-09-staff-list", readme="payments")
    page.goto(f"/payments/{payment.pk}/")
    form = page.get_by_test_id("refund-form")
    form.get_by_label("Amount").fill("50.00")
    form.get_by_label("Reason").fill("Service credit for the March outage")
    form.get_by_role("button", name="Refund").click()
    expect(page.get_by_test_id("refunds")).to_contain_text("50.00")
    expect(page.get_by_test_id("refunds")).to_contain_text("Service credit for the March outage")
    screenshot("payments-10-refunded")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED and payment.refunded_amount == Decimal("50.00")


def test_the_card_surcharge_is_its_own_line_before_paying_and_is_what_is_charged(
    page,
    screenshot,
    shop,
    worker,
    localstripe,  # noqa: F811
    settings,
):
    settings.PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal("3")
    settings.PAYMENTS_CARD_SURCHARGE_CAP = Decimal("25.00")
    first = make_invoice(shop, "150.00", number="INV-6001")
    second = make_invoice(shop, "90.00", number="INV-6002")
    save_card(localstripe, shop)  # a credit card (localstripe's cards all are)
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)

    # A saved credit card: the surcharge line, its amount and the total, before Pay.
    page.goto(f"/portal/pay/?invoice={first.pk}")
    summary = page.get_by_test_id("pay-summary")
    expect(summary).to_contain_text("Card surcharge (3%)")
    expect(summary).to_contain_text("4.50")
    expect(summary.locator("[data-summary-total]")).to_have_text("154.50")
    # A part payment: the line follows the amount.
    page.get_by_label("Amount to pay on invoice INV-6001").fill("100.00")
    expect(summary.locator("[data-summary-surcharge-amount]")).to_have_text("3.00")
    expect(summary.locator("[data-summary-total]")).to_have_text("103.00")
    screenshot("payments-11-surcharge-line")
    # A new card: its funding is unknown until Stripe has it; the page says so.
    page.get_by_label("A new card").check()
    expect(summary.locator("[data-summary-surcharge]")).to_be_hidden()
    expect(summary).to_contain_text("if your card is one, the amount is shown before anything is charged")
    expect(summary.locator("[data-summary-total]")).to_have_text("100.00")
    page.get_by_label(re.compile(r"Visa ···· 4242")).check()
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(status_of(page)).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(status_of(page)).to_contain_text("Card surcharge (3%)")
    expect(status_of(page)).to_contain_text("103.00")
    page.get_by_role("link", name="Receipt").click()
    expect(page.get_by_test_id("surcharge-line")).to_contain_text("3.00")
    screenshot("payments-12-surcharge-receipt")

    # A new card that turns out to be a credit card: a confirm step shows the surcharge first.
    page.goto(f"/portal/pay/?invoice={second.pk}")
    page.get_by_label("A new card").check()
    enter_card(page, VISA)
    page.get_by_role("button", name="Pay", exact=True).click()
    notice = page.get_by_test_id("pay-notice")
    expect(notice).to_contain_text("A card surcharge of 2.70 USD applies to this credit card: the total is 92.70 USD")
    expect(page.get_by_label(re.compile(r"entered just now"))).to_be_checked()
    expect(page.get_by_test_id("pay-summary").locator("[data-summary-total]")).to_have_text("92.70")
    screenshot("payments-13-surcharge-confirm")
    assert Payment.objects.filter(allocations__invoice=second).count() == 0
    page.get_by_role("button", name="Pay", exact=True).click()
    expect(status_of(page)).to_have_attribute("data-status", "succeeded", timeout=30_000)
    payments = list(Payment.objects.order_by("pk"))
    assert [(p.amount, p.surcharge) for p in payments] == [
        (Decimal("100.00"), Decimal("3.00")),
        (Decimal("90.00"), Decimal("2.70")),
    ]
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [10300, 9270]


def fill_bank_account(page, iban: str, *, accept: bool = True) -> None:
    form = page.locator("#sepa-form")
    form.get_by_label("Account holder name").fill("Dana Scully")
    form.get_by_label("IBAN").fill(iban)
    form.get_by_label("I accept this mandate").set_checked(accept)


def test_a_client_adds_a_bank_account_and_pays_by_sepa_direct_debit(
    page,
    screenshot,
    shop,
    payments_worker_env,  # noqa: F811
    localstripe,  # noqa: F811
    live_server,
    settings,
):
    """SEPA Direct Debit in Chromium through localstripe's fake Stripe.js (confirmSepaDebitSetup).
    A good IBAN's debit settles at once at localstripe where Stripe takes days: a test-only
    collector holds it Processing, in the page and in the worker, until the signed webhook that
    Stripe would send arrives. The decline IBAN is accepted with its mandate, as at Stripe, and
    its debit fails when the bank answers."""
    settings.PAYMENTS_COLLECTOR_WRAPPER = CLEAR_BY_WEBHOOK
    settings.PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal("3")  # never on bank debits
    invoice = make_invoice(shop, "480.00", number="INV-7001")
    refused = make_invoice(shop, "35.00", number="INV-7002")
    sign_in(page, "dana@globex.example", DEFAULT_PASSWORD)
    page.goto("/portal/payment-methods/")
    expect(page.get_by_test_id("sepa-mandate")).to_contain_text("you authorise (A) Demo MSP and Stripe")

    # A mistyped IBAN and an unticked mandate are caught before anything is sent.
    fill_bank_account(page, "DE00 3704 0044 0532 0130 00")
    page.get_by_role("button", name="Add bank account").click()
    expect(page.get_by_test_id("sepa-errors")).to_have_text(
        "That IBAN is not valid: check it against your bank statement."
    )
    fill_bank_account(page, "DE89 3704 0044 0532 0130 00", accept=False)
    page.get_by_role("button", name="Add bank account").click()
    expect(page.get_by_test_id("sepa-errors")).to_have_text("Accept the mandate to add the bank account.")
    assert not PaymentMethod.objects.exists()

    fill_bank_account(page, "DE89 3704 0044 0532 0130 00")
    page.get_by_role("button", name="Add bank account").click()
    expect(page.get_by_text("SEPA Direct Debit ···· 3000 was added.")).to_be_visible()
    expect(page.get_by_test_id("payment-methods")).to_contain_text("bank DE 37040044")
    screenshot("payments-14-sepa-added")
    bank = PaymentMethod.objects.get()
    assert bank.kind == "sepa_debit" and bank.is_default and bank.mandate.text.startswith("By providing")
    fill_bank_account(page, DECLINED_IBAN)
    page.get_by_role("button", name="Add bank account").click()
    expect(page.get_by_text("SEPA Direct Debit ···· 3001 was added.")).to_be_visible()

    # Paying with it: no surcharge line; Processing until Stripe's webhook says the bank paid.
    worker = CeleryWorker({**payments_worker_env, "PAYMENTS_COLLECTOR_WRAPPER": CLEAR_BY_WEBHOOK})
    worker.start()
    try:
        page.goto(f"/portal/pay/?invoice={invoice.pk}")
        expect(page.get_by_label("SEPA Direct Debit ···· 3000")).to_be_checked()
        expect(page.get_by_test_id("pay-summary").locator("[data-summary-surcharge]")).to_be_hidden()
        expect(page.get_by_test_id("pay-summary").locator("[data-summary-total]")).to_have_text("480.00")
        page.get_by_role("button", name="Pay", exact=True).click()
        expect(status_of(page)).to_have_attribute("data-status", "processing", timeout=30_000)
        expect(page.get_by_test_id("bank-debit-processing")).to_be_visible()
        screenshot("payments-15-sepa-processing")
        payment = Payment.objects.get()
        assert payment.surcharge == Decimal("0") and payment.status == PaymentStatus.PROCESSING
        intent = next(
            i for i in stripe_list(localstripe, "/v1/payment_intents") if i["id"] == payment.processor_intent_id
        )
        body, signature = signed_delivery(intent_event("evt_sepa_paid", "payment_intent.succeeded", intent))
        answer = requests.post(
            f"{live_server.url}/payments/webhooks/stripe/",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            timeout=10,
        )
        assert answer.status_code == 200
        expect(status_of(page)).to_have_attribute("data-status", "succeeded", timeout=30_000)
        screenshot("payments-16-sepa-paid")
        assert ProcessorEvent.objects.get(event_id="evt_sepa_paid").outcome == "processing -> succeeded"

        # The refused debit: Processing, then Failed once the bank answers (read back from Stripe).
        page.goto(f"/portal/pay/?invoice={refused.pk}")
        page.get_by_label("SEPA Direct Debit ···· 3001").check()
        page.get_by_role("button", name="Pay", exact=True).click()
        expect(status_of(page)).to_have_attribute("data-status", "processing", timeout=30_000)
        body, signature = signed_delivery(
            intent_event(
                "evt_sepa_refused",
                "payment_intent.payment_failed",
                {
                    "id": Payment.objects.get(allocations__invoice=refused).processor_intent_id,
                    "object": "payment_intent",
                },
            )
        )
        time.sleep(1)  # localstripe's bank answers after half a second
        requests.post(
            f"{live_server.url}/payments/webhooks/stripe/",
            data=body,
            headers={"Content-Type": "application/json", "Stripe-Signature": signature},
            timeout=10,
        )
        expect(status_of(page)).to_have_attribute("data-status", "failed", timeout=30_000)
        expect(page.get_by_test_id("payment-failure")).to_contain_text(
            "Your bank did not pay the direct debit from your account ending 3001."
        )
        expect(page.get_by_test_id("payment-failure")).to_contain_text("Nothing was charged")
        screenshot("payments-17-sepa-refused")
    finally:
        worker.stop()
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [48000]
