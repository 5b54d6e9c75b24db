"""Paying invoices against a real localstripe: one and several invoices, partial amounts, the
balance rules, declines, 3-D Secure, and exactly one charge whatever is retried or crashes."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.conf import settings as django_settings

from integrations.locale import forget_tenant_locale
from payments import selectors, services
from payments.models import Initiator, Payment, PaymentStatus
from payments.services import InvoiceAmount, PaymentRefused

from .conftest import PUBLISHABLE_KEY, make_invoice, save_card, stripe_list, succeeded_charges

pytestmark = pytest.mark.django_db

CRASH_AFTER_CONFIRM = "tests.payments.fault_collectors.CrashAfterConfirm"


def pay(organization, method, *amounts: tuple, attempt: str = "attempt-1") -> Payment:
    return services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal(amount)) for invoice, amount in amounts],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt=attempt,
    )


def test_pay_one_invoice_in_full(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "123.45")
    method = save_card(localstripe, organization)
    payment = pay(organization, method, (invoice, "123.45"))
    assert payment.status == PaymentStatus.PENDING and payment.processor_intent_id == ""
    assert selectors.invoice_payment_state(invoice).processing

    payment = services.payment_charge(payment_id=payment.pk)

    assert payment.status == PaymentStatus.SUCCEEDED and payment.succeeded_at
    charges = succeeded_charges(localstripe)
    assert [(c["amount"], c["currency"]) for c in charges] == [(12345, "usd")]
    intent = stripe_list(localstripe, "/v1/payment_intents")[0]
    assert intent["id"] == payment.processor_intent_id
    assert intent["metadata"]["portal_payment"] == f"payment-{payment.pk}"
    state = selectors.invoice_payment_state(invoice)
    assert (state.payable, state.unreflected, state.processing) == (Decimal("0"), Decimal("123.45"), False)


def test_pay_several_invoices_together_is_one_charge(stripe_integration, localstripe, organization):
    first, second = make_invoice(organization, "100.00"), make_invoice(organization, "50.50")
    method = save_card(localstripe, organization)
    payment = services.payment_charge(payment_id=pay(organization, method, (first, "100"), (second, "50.50")).pk)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.amount == Decimal("150.50")
    assert {a.invoice_id: a.amount for a in payment.allocations.all()} == {
        first.pk: Decimal("100"),
        second.pk: Decimal("50.50"),
    }
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [15050]


def test_partial_payment_and_the_minimum(stripe_integration, localstripe, organization, settings):
    settings.PAYMENTS_MINIMUM_AMOUNT = Decimal("5.00")
    invoice = make_invoice(organization, "100.00")
    method = save_card(localstripe, organization)
    services.payment_charge(payment_id=pay(organization, method, (invoice, "40"), attempt="a").pk)
    assert selectors.invoice_payment_state(invoice).payable == Decimal("60.00")

    with pytest.raises(PaymentRefused, match=r"smallest payment is \$5.00"):
        pay(organization, method, (invoice, "4.99"), attempt="b")
    # The rest may always be paid, even when it is below the minimum.
    invoice.balance_due = invoice.total = Decimal("43.00")  # BMS now shows the 40, and 57 more paid elsewhere
    invoice.save()
    assert selectors.invoice_payment_state(invoice).payable == Decimal("43.00")


def test_over_the_balance_is_refused_and_nothing_changes(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "80.00", number="INV-80")
    method = save_card(localstripe, organization)
    with pytest.raises(PaymentRefused, match=r"INV-80: the most you can pay is the balance, \$80.00\."):
        pay(organization, method, (invoice, "80.01"))
    assert Payment.objects.count() == 0
    assert stripe_list(localstripe, "/v1/payment_intents") == []


def test_portal_payments_bms_does_not_show_yet_are_subtracted(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "100.00", number="INV-100")
    method = save_card(localstripe, organization)
    services.payment_charge(payment_id=pay(organization, method, (invoice, "60"), attempt="a").pk)
    with pytest.raises(PaymentRefused, match=r"most you can pay is \$40.00 \(balance \$100.00 less \$60.00"):
        pay(organization, method, (invoice, "50"), attempt="b")
    # An in-flight payment counts too: nobody pays twice while a charge is under way.
    pending = pay(organization, method, (invoice, "30"), attempt="c")
    with pytest.raises(PaymentRefused, match=r"most you can pay is \$10.00"):
        pay(organization, method, (invoice, "20"), attempt="d")
    services.payment_charge(payment_id=pending.pk)

    # The sync brings BMS's balance: only the first payment is reflected so far.
    invoice.balance_due = Decimal("40.00")
    invoice.save()
    state = selectors.invoice_payment_state(invoice)
    assert (state.unreflected, state.payable) == (Decimal("30.00"), Decimal("10.00"))
    invoice.balance_due = Decimal("10.00")  # both reflected
    invoice.save()
    assert selectors.invoice_payment_state(invoice).payable == Decimal("10.00")


def test_a_declined_card_records_nothing_paid(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "75.00")
    method = save_card(localstripe, organization, card="4000000000000341")  # saves, declines when charged
    payment = services.payment_charge(payment_id=pay(organization, method, (invoice, "75")).pk)
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_reason == "Your card was declined."
    assert succeeded_charges(localstripe) == []
    state = selectors.invoice_payment_state(invoice)
    assert (state.payable, state.processing) == (Decimal("75.00"), False)


@pytest.mark.parametrize("authenticated", [True, False])
def test_3d_secure_then_the_client_confirms_or_cancels(stripe_integration, localstripe, organization, authenticated):
    invoice = make_invoice(organization, "20.00")
    method = save_card(localstripe, organization, card="4000002500003155")
    payment = services.payment_charge(payment_id=pay(organization, method, (invoice, "20")).pk)
    assert payment.status == PaymentStatus.PENDING and payment.action_required
    secret = services.payment_authentication_secret(payment=payment)
    assert secret.startswith(payment.processor_intent_id)
    # A redelivered charge task neither confirms again nor creates another intent.
    assert services.payment_charge(payment_id=payment.pk).action_required
    assert len(stripe_list(localstripe, "/v1/payment_intents")) == 1

    # Stripe.js's confirmCardPayment, as localstripe's fake does it.
    answer = requests.post(
        f"{localstripe.url}/v1/payment_intents/{payment.processor_intent_id}/_authenticate",
        params={"success": "true" if authenticated else "false"},
        json={"key": PUBLISHABLE_KEY, "client_secret": secret},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    payment = services.payment_refresh(payment_id=payment.pk)
    if authenticated:
        assert (payment.status, payment.action_required) == (PaymentStatus.SUCCEEDED, False)
        assert len(succeeded_charges(localstripe)) == 1
    else:
        assert (payment.status, payment.action_required) == (PaymentStatus.FAILED, False)
        assert succeeded_charges(localstripe) == []


def test_a_double_submit_is_one_payment(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "10.00")
    method = save_card(localstripe, organization)
    first = pay(organization, method, (invoice, "10"), attempt="same-form")
    again = pay(organization, method, (invoice, "10"), attempt="same-form")
    assert first.pk == again.pk and Payment.objects.count() == 1


def test_a_redelivered_charge_task_charges_once(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "10.00")
    method = save_card(localstripe, organization)
    payment = pay(organization, method, (invoice, "10"))
    for _ in range(3):
        assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    assert len(stripe_list(localstripe, "/v1/payment_intents")) == 1
    assert len(succeeded_charges(localstripe)) == 1


def test_a_crash_after_the_charge_moved_money_settles_on_retry(
    stripe_integration, localstripe, organization, monkeypatch
):
    invoice = make_invoice(organization, "99.00")
    method = save_card(localstripe, organization)
    payment = pay(organization, method, (invoice, "99"))

    monkeypatch.setattr(django_settings, "PAYMENTS_COLLECTOR_WRAPPER", CRASH_AFTER_CONFIRM)
    with pytest.raises(SystemExit):
        services.payment_charge(payment_id=payment.pk)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.processor_intent_id  # stored before confirming
    assert len(succeeded_charges(localstripe)) == 1

    monkeypatch.undo()
    assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    assert len(stripe_list(localstripe, "/v1/payment_intents")) == 1
    assert len(succeeded_charges(localstripe)) == 1


def test_a_crash_before_the_intent_id_was_stored_finds_it_again(
    stripe_integration, localstripe, organization, monkeypatch
):
    """Killed between Stripe creating the intent and the portal storing its id (the lease then
    expires). localstripe ignores idempotency keys, so only the metadata lookup saves us here."""
    invoice = make_invoice(organization, "42.00")
    method = save_card(localstripe, organization)
    payment = pay(organization, method, (invoice, "42"))

    def killed(*args, **kwargs):
        raise SystemExit("killed before storing the intent id")

    monkeypatch.setattr(services, "_store_charge_id", killed)
    with pytest.raises(SystemExit):
        services.payment_charge(payment_id=payment.pk)
    monkeypatch.undo()
    payment.refresh_from_db()
    assert payment.processor_intent_id == "" and len(stripe_list(localstripe, "/v1/payment_intents")) == 1
    # A killed worker releases nothing: its lease runs out.
    Payment.objects.filter(pk=payment.pk).update(charge_lease_until=None)

    payment = services.payment_charge(payment_id=payment.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    intents = stripe_list(localstripe, "/v1/payment_intents")
    assert [i["id"] for i in intents] == [payment.processor_intent_id]
    assert len(succeeded_charges(localstripe)) == 1


def test_a_second_worker_waits_while_the_first_holds_the_payment(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "10.00")
    method = save_card(localstripe, organization)
    payment = pay(organization, method, (invoice, "10"))
    lease = services._take_lease(payment.pk)
    assert lease is not None
    with pytest.raises(services.ChargeBusy):
        services.payment_charge(payment_id=payment.pk)
    services._release_lease(payment.pk, lease)
    assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED


def test_another_organizations_invoice_or_method_is_refused(stripe_integration, localstripe, organization):
    from .conftest import make_organization

    other = make_organization("Other Co")
    theirs = make_invoice(other, "10.00")
    ours = make_invoice(organization, "10.00")
    method = save_card(localstripe, organization)
    with pytest.raises(PaymentRefused, match="not one of your organization's open invoices"):
        pay(organization, method, (theirs, "10"))
    their_method = save_card(localstripe, other)
    with pytest.raises(PaymentRefused, match="not available"):
        pay(organization, their_method, (ours, "10"))
    assert Payment.objects.count() == 0


def in_currency(invoice, currency: str):
    invoice.currency = currency
    invoice.save(update_fields=["currency"])
    return invoice


def test_zero_decimal_currency_is_sent_in_whole_units(stripe_integration, localstripe, organization):
    """A JPY invoice (its organization's currency in BMS) is charged in yen, whole units."""
    invoice = in_currency(make_invoice(organization, "5000"), "JPY")
    method = save_card(localstripe, organization)
    payment = services.payment_charge(payment_id=pay(organization, method, (invoice, "5000")).pk)
    assert payment.status == PaymentStatus.SUCCEEDED and payment.currency == "JPY"
    assert [(c["amount"], c["currency"]) for c in succeeded_charges(localstripe)] == [(5000, "jpy")]
    with pytest.raises(PaymentRefused, match="cannot be charged in JPY"):
        pay(organization, method, (in_currency(make_invoice(organization, "10.50"), "JPY"), "10.50"), attempt="b")


def test_the_payment_is_in_the_tenants_currency_when_the_invoice_names_none(
    stripe_integration, localstripe, organization
):
    organization.source.currency_code, organization.source.culture_code = "EUR", "de-DE"
    organization.source.save()
    forget_tenant_locale()
    invoice = make_invoice(organization, "20.00")
    assert invoice.currency == ""  # stored before currencies were
    method = save_card(localstripe, organization)
    payment = services.payment_charge(payment_id=pay(organization, method, (invoice, "20")).pk)
    assert (payment.status, payment.currency) == (PaymentStatus.SUCCEEDED, "EUR")
    assert [(c["amount"], c["currency"]) for c in succeeded_charges(localstripe)] == [(2000, "eur")]
    with pytest.raises(PaymentRefused, match=r"the balance, 5,00\xa0€"):
        pay(organization, method, (make_invoice(organization, "5.00"), "6"), attempt="b")


def test_invoices_in_different_currencies_are_not_paid_together(stripe_integration, localstripe, organization):
    euros = in_currency(make_invoice(organization, "10.00"), "EUR")
    dollars = in_currency(make_invoice(organization, "10.00"), "USD")
    method = save_card(localstripe, organization)
    with pytest.raises(PaymentRefused, match=r"different currencies \(EUR, USD\): pay those in each currency"):
        pay(organization, method, (euros, "10"), (dollars, "10"))
    assert Payment.objects.count() == 0 and succeeded_charges(localstripe) == []
    assert pay(organization, method, (euros, "10")).currency == "EUR"  # one at a time is fine


def test_card_surcharge_only_on_credit_cards(stripe_integration, localstripe, organization, settings):
    settings.PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal("3")
    settings.PAYMENTS_CARD_SURCHARGE_CAP = Decimal("2.00")
    method = save_card(localstripe, organization)
    assert method.funding == "credit"
    payment = services.payment_charge(payment_id=pay(organization, method, (make_invoice(organization, "50"), "50")).pk)
    assert (payment.amount, payment.surcharge, payment.total) == (Decimal("50"), Decimal("1.50"), Decimal("51.50"))
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [5150]
    assert services.surcharge_for(method=method, amount=Decimal("1000")) == Decimal("2.00")  # capped
    method.funding = "debit"
    assert services.surcharge_for(method=method, amount=Decimal("1000")) == Decimal("0")


def test_a_confirmation_the_processor_refuses_fails_the_payment_and_cancels_the_charge(
    stripe_integration, localstripe, organization, monkeypatch
):
    from providers.stripe.exceptions import InvalidRequest
    from providers.stripe.installation import StripeInstallation

    def refuse(self, charge_id, **kwargs):
        raise InvalidRequest("Unexpected parameter", http_status=400)

    monkeypatch.setattr(StripeInstallation, "confirm_charge", refuse)
    method = save_card(localstripe, organization)
    payment = services.payment_charge(payment_id=pay(organization, method, (make_invoice(organization, "9"), "9")).pk)
    assert payment.status == PaymentStatus.FAILED
    assert "Nothing was charged" in payment.failure_reason and payment.failure_code == "confirmation_refused"
    assert [i["status"] for i in stripe_list(localstripe, "/v1/payment_intents")] == ["canceled"]
