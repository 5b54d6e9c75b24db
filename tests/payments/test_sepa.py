"""SEPA Direct Debit (request level, against localstripe): a bank account added on the Payment
methods page with the mandate shown and accepted (its text, time and address kept, Stripe's
record preferred where it has one), default and removal as for cards, paying with it (never a
surcharge), and a debit that stays Processing until Stripe's webhook says the bank answered.

localstripe settles a good IBAN's debit at once, where Stripe takes days: the webhook tests use
``BankDebitsClearByWebhook`` (test-only) to hold it Processing until the signed event arrives.
The decline IBAN is accepted with its mandate (as at Stripe) and its debit fails later."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from payments import autopay, services
from payments.models import (
    AutopayTiming,
    Initiator,
    MethodKind,
    Payment,
    PaymentMandate,
    PaymentMethod,
    PaymentStatus,
    ProcessorEvent,
    ScheduledCharge,
    ScheduledChargeStatus,
)
from payments.services import InvoiceAmount

from .conftest import (
    DECLINED_IBAN,
    GOOD_IBAN,
    browser_confirm_sepa_setup,
    intent_event,
    make_invoice,
    save_bank_account,
    save_card,
    signed_delivery,
    stripe_list,
)
from .test_views import attempt_of, contact, web  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db

WEBHOOK_URL = "/payments/webhooks/stripe/"
CLEAR_BY_WEBHOOK = "tests.payments.fault_collectors.BankDebitsClearByWebhook"
STRIPE_MANDATES = "tests.payments.fault_collectors.StripeMandates"


def add_bank_account(web, localstripe, iban: str = GOOD_IBAN, **form):  # noqa: F811
    """The page's steps: a SetupIntent from the portal, Stripe.js confirms it, the page posts."""
    setup = web.post("/portal/payment-methods/setup/", {"kind": "sepa_debit"}).json()
    confirmed = browser_confirm_sepa_setup(localstripe, setup["client_secret"], iban)
    assert confirmed.get("status") == "succeeded", confirmed
    data = {"setup_id": setup["id"], "kind": "sepa_debit", "mandate_accepted": "on", **form}
    return web.post("/portal/payment-methods/", data, HTTP_USER_AGENT="Mozilla/5.0 (test)")


def test_a_bank_account_is_added_with_its_mandate(web, contact, stripe_integration, localstripe, settings):  # noqa: F811
    settings.MSP_NAME = "Northwind IT"
    page = web.get("/portal/payment-methods/").content.decode()
    assert "Add a bank account (SEPA Direct Debit)" in page and 'data-payments-form="add-sepa"' in page
    mandate_text = services.sepa_mandate_text()
    assert "you authorise (A) Northwind IT and Stripe, our payment service provider" in mandate_text
    assert mandate_text in page.replace("&#x27;", "'")
    assert 'name="iban"' not in page  # the IBAN goes to Stripe only

    answer = add_bank_account(web, localstripe)
    assert answer.status_code == 302
    method = PaymentMethod.objects.get()
    assert (method.kind, method.last4, method.bank, method.funding) == (
        MethodKind.SEPA_DEBIT,
        "3000",
        "DE 37040044",
        "",
    )
    assert method.label == "SEPA Direct Debit ···· 3000" and method.is_default and method.expiry == ""
    mandate = PaymentMandate.objects.get(method=method)
    assert mandate.text == mandate_text and mandate.accepted_by == contact
    assert (mandate.ip_address, mandate.user_agent, mandate.recorded_by_processor) == (
        "127.0.0.1",
        "Mozilla/5.0 (test)",
        False,
    )
    assert abs((timezone.now() - mandate.accepted_at).total_seconds()) < 60
    assert mandate.reference  # localstripe's on the method (older API versions put it there)
    listing = web.get("/portal/payment-methods/").content.decode()
    assert "SEPA Direct Debit ···· 3000" in listing and "bank DE 37040044" in listing
    audit = AuditEvent.objects.filter(action="payment_method.added").get()
    assert "SEPA Direct Debit ···· 3000 (mandate accepted)" in audit.summary


def test_stripes_record_of_the_mandate_is_kept_where_it_gives_one(
    web,  # noqa: F811
    stripe_integration,
    localstripe,
    monkeypatch,
):
    monkeypatch.setattr(django_settings, "PAYMENTS_COLLECTOR_WRAPPER", STRIPE_MANDATES)
    assert add_bank_account(web, localstripe).status_code == 302
    mandate = PaymentMandate.objects.get()
    assert mandate.processor_mandate_id.startswith("mandate_") and mandate.reference == "STRIPE-REF-1"
    assert (mandate.accepted_at.isoformat(), mandate.ip_address, mandate.recorded_by_processor) == (
        "2026-03-02T09:30:00+00:00",
        "203.0.113.7",
        True,
    )


def test_without_the_mandate_accepted_nothing_is_saved(web, stripe_integration, localstripe, organization):  # noqa: F811
    answer = add_bank_account(web, localstripe, mandate_accepted="")
    assert answer.status_code == 400
    assert "Accept the SEPA Direct Debit mandate to add a bank account." in answer.content.decode()
    assert not PaymentMethod.objects.exists() and not PaymentMandate.objects.exists()
    # Nor through the pay page's "new card" path, which has no mandate to give.
    setup = services.method_setup_begin(organization=organization, kinds=("sepa_debit",))
    browser_confirm_sepa_setup(localstripe, setup.client_secret, GOOD_IBAN)
    with pytest.raises(services.PaymentRefused, match="Accept the SEPA Direct Debit mandate"):
        services.method_save_from_setup(organization=organization, actor=None, setup_id=setup.id)
    assert not PaymentMethod.objects.exists()


def test_default_and_removal_follow_the_rules_of_cards(web, stripe_integration, localstripe, organization):  # noqa: F811
    card = save_card(localstripe, organization)
    bank = save_bank_account(localstripe, organization)
    assert not bank.is_default
    assert web.post(f"/portal/payment-methods/{bank.pk}/default/").status_code == 302
    bank.refresh_from_db()
    assert bank.is_default and not PaymentMethod.objects.get(pk=card.pk).is_default
    rule = autopay.rule_create(
        organization=organization, actor=None, by_client=True, method=bank, timing=AutopayTiming.DAYS_AFTER_DUE, days=0
    )
    web.post(f"/portal/payment-methods/{bank.pk}/remove/")
    bank.refresh_from_db()
    assert bank.removed_at is None
    assert "SEPA Direct Debit ···· 3000 cannot be removed: 1 autopay rule pays with it" in web.get(
        "/portal/payment-methods/"
    ).content.decode().replace("&#x27;", "'")
    autopay.rule_delete(rule=rule, actor=None, by_client=True)
    web.post(f"/portal/payment-methods/{bank.pk}/remove/")
    bank.refresh_from_db()
    assert bank.removed_at is not None and PaymentMandate.objects.filter(method=bank).exists()  # kept


def deliver(event_id: str, event_type: str, intent_id: str, localstripe, django_capture_on_commit_callbacks):  # noqa: F811
    intent = next(i for i in stripe_list(localstripe, "/v1/payment_intents") if i["id"] == intent_id)
    body, signature = signed_delivery(intent_event(event_id, event_type, intent))
    with django_capture_on_commit_callbacks(execute=False):
        answer = Client().post(WEBHOOK_URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
    assert answer.status_code == 200
    return services.processor_event_process(event_pk=ProcessorEvent.objects.get(event_id=event_id).pk)


def test_a_bank_debit_stays_processing_until_the_webhook_says_it_succeeded(
    web,  # noqa: F811
    billing_client,
    stripe_integration,
    localstripe,
    organization,
    settings,
    monkeypatch,
    django_capture_on_commit_callbacks,
):
    settings.PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal("3")  # never on bank debits
    monkeypatch.setattr(django_settings, "PAYMENTS_COLLECTOR_WRAPPER", CLEAR_BY_WEBHOOK)
    invoice = make_invoice(organization, "240.00", number="INV-SEPA-1")
    bank = save_bank_account(localstripe, organization)
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert re.search(rf'value="{bank.pk}" id="method-{bank.pk}" +checked', page)  # the default, no surcharge mark
    form = {
        "attempt": attempt_of(page),
        "invoice": [invoice.pk],
        f"amount-{invoice.pk}": "240.00",
        "method": bank.pk,
        "surcharge_shown": "0.00",
    }
    assert web.post("/portal/pay/", form).status_code == 302
    payment = Payment.objects.get()
    assert (payment.surcharge, payment.total) == (Decimal("0"), Decimal("240.00"))

    payment = services.payment_charge(payment_id=payment.pk)
    assert payment.status == PaymentStatus.PROCESSING
    panel = web.get(f"/portal/payments/{payment.pk}/status/").content.decode()
    assert "Payment processing" in panel and "A bank debit takes a few business days to clear" in panel
    assert (
        services.payment_refresh(payment_id=payment.pk).status == PaymentStatus.PROCESSING
    )  # the bank has not answered
    assert "Payment processing" in web.get(f"/portal/invoices/{invoice.pk}/").content.decode()

    event = deliver(
        "evt_sepa_ok",
        "payment_intent.succeeded",
        payment.processor_intent_id,
        localstripe,
        django_capture_on_commit_callbacks,
    )
    assert event.outcome == "processing -> succeeded"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED and payment.succeeded_at is not None
    staff = billing_client.get(f"/payments/{payment.pk}/").content.decode()
    assert 'data-testid="payment-mandate"' in staff and f"reference {bank.mandate.reference}" in staff
    assert [c["amount"] for c in stripe_list(localstripe, "/v1/charges") if c["status"] == "succeeded"] == [24000]


def test_a_refused_bank_debit_fails_when_the_webhook_says_so(
    web,  # noqa: F811
    stripe_integration,
    localstripe,
    organization,
    django_capture_on_commit_callbacks,
):
    invoice = make_invoice(organization, "75.00")
    bank = save_bank_account(localstripe, organization, iban=DECLINED_IBAN)  # accepted with its mandate
    payment = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal("75.00"))],
        method=bank,
        initiated_by=Initiator.AUTOPAY,
        actor=None,
        attempt="sepa-declined",
    )
    # localstripe, like Stripe, keeps this debit processing until the bank refuses it.
    payment = services.payment_charge(payment_id=payment.pk)
    assert payment.status == PaymentStatus.PROCESSING
    time.sleep(1.5)  # localstripe's bank answers after half a second
    event = deliver(
        "evt_sepa_refused",
        "payment_intent.payment_failed",
        payment.processor_intent_id,
        localstripe,
        django_capture_on_commit_callbacks,
    )
    assert event.outcome == "processing -> failed"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.failure_reason
    panel = web.get(f"/portal/payments/{payment.pk}/status/").content.decode()
    assert "Your bank did not pay the direct debit from your account ending 3001." in panel
    assert [c for c in stripe_list(localstripe, "/v1/charges") if c["status"] == "succeeded"] == []


def test_a_client_paid_bank_debit_is_confirmed_off_session(stripe_integration, localstripe, organization, monkeypatch):
    """Collected under the mandate with nobody to authenticate: Stripe is told so (off_session),
    as for autopay; a card the client pays with on the page is not."""
    from providers.stripe.installation import StripeInstallation

    seen = []
    real_confirm = StripeInstallation.confirm_charge

    def recording(self, charge_id, **kwargs):
        seen.append(kwargs["off_session"])
        return real_confirm(self, charge_id, **kwargs)

    monkeypatch.setattr(StripeInstallation, "confirm_charge", recording)
    for method in (save_bank_account(localstripe, organization), save_card(localstripe, organization)):
        invoice = make_invoice(organization, "20.00")
        payment = services.payment_create(
            organization=organization,
            amounts=[InvoiceAmount(invoice.pk, Decimal("20.00"))],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt=f"off-session-{method.kind}",
        )
        services.payment_charge(payment_id=payment.pk)
    assert seen == [True, False]


def test_autopay_debits_a_bank_account_and_waits_for_the_bank(
    stripe_integration, localstripe, organization, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(django_settings, "PAYMENTS_COLLECTOR_WRAPPER", CLEAR_BY_WEBHOOK)
    bank = save_bank_account(localstripe, organization)
    autopay.rule_create(
        organization=organization,
        actor=None,
        by_client=True,
        method=bank,
        timing=AutopayTiming.DAYS_AFTER_INVOICE,
        days=0,
    )
    make_invoice(organization, "310.00")
    with django_capture_on_commit_callbacks(execute=False):
        autopay.autopay_evaluate()
    charge = ScheduledCharge.objects.get()
    assert charge.status == ScheduledChargeStatus.CHARGING and charge.payment.method == bank
    payment = services.payment_charge(payment_id=charge.payment_id)
    assert payment.status == PaymentStatus.PROCESSING and payment.surcharge == Decimal("0")
    with django_capture_on_commit_callbacks(execute=False):
        autopay.autopay_evaluate()  # the bank has not answered: neither charged nor retried
    charge.refresh_from_db()
    assert charge.status == ScheduledChargeStatus.CHARGING and Payment.objects.count() == 1

    deliver(
        "evt_sepa_autopay",
        "payment_intent.succeeded",
        payment.processor_intent_id,
        localstripe,
        django_capture_on_commit_callbacks,
    )
    with django_capture_on_commit_callbacks(execute=False):
        autopay.autopay_evaluate()
    charge.refresh_from_db()
    assert charge.status == ScheduledChargeStatus.CHARGED
    assert [c["amount"] for c in stripe_list(localstripe, "/v1/charges") if c["status"] == "succeeded"] == [31000]
