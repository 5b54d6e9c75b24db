"""The gateway against a real localstripe process: the flows the payments feature builds on."""

from __future__ import annotations

import pytest

from providers.stripe.client import StripeGateway
from providers.stripe.exceptions import (
    AuthenticationFailed,
    AuthenticationRequired,
    CardDeclined,
    InvalidRequest,
    NotFound,
)
from providers.stripe.types import CardFunding, PaymentIntentStatus, SetupIntentStatus

from .helpers import card_payment_method, confirm_setup_intent


def _customer_with_card(gateway: StripeGateway, localstripe, payment_method: str = "pm_card_visa"):
    """What the portal does to save a card: customer, SetupIntent confirmed in the browser, attach."""
    customer = gateway.create_customer(name="Acme Ltd", email="ap@acme.test", metadata={"organization_id": "7"})
    setup = gateway.create_setup_intent(customer=customer.id, idempotency_key="setup-org-7-1")
    confirmed = confirm_setup_intent(localstripe, setup.id, payment_method)
    method = gateway.attach_payment_method(confirmed["payment_method"], customer=customer.id)
    return customer, method


def test_account_check_proves_the_key_works(stripe_gateway):
    account = stripe_gateway.retrieve_account()
    assert account.key_works is True
    assert account.charges_enabled is None  # localstripe has no /v1/account
    assert stripe_gateway.request_counts == {"GET /v1/account": 1, "GET /v1/balance": 1}


def test_a_wrong_key_is_authentication_failed_and_never_echoed(localstripe):
    gateway = StripeGateway("not-a-secret-key-9f8e7d", api_base=localstripe.url, max_network_retries=0)
    with pytest.raises(AuthenticationFailed) as caught:
        gateway.retrieve_account()
    assert caught.value.http_status == 401
    assert not caught.value.transient
    assert "9f8e7d" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_customer_round_trip(stripe_gateway):
    created = stripe_gateway.create_customer(
        name="Acme Ltd", email="ap@acme.test", metadata={"organization_id": "7"}, idempotency_key="customer-org-7"
    )
    assert created.id.startswith("cus_")
    fetched = stripe_gateway.retrieve_customer(created.id)
    assert (fetched.name, fetched.email, fetched.metadata, fetched.deleted) == (
        "Acme Ltd",
        "ap@acme.test",
        {"organization_id": "7"},
        False,
    )
    with pytest.raises(NotFound):
        stripe_gateway.retrieve_customer("cus_doesnotexist")


def test_setup_intent_then_attach_saves_a_card(stripe_gateway, localstripe):
    customer = stripe_gateway.create_customer(name="Acme Ltd")
    setup = stripe_gateway.create_setup_intent(customer=customer.id, idempotency_key="setup-org-7-1")
    assert setup.status is SetupIntentStatus.REQUIRES_PAYMENT_METHOD
    assert setup.usage == "off_session" and setup.payment_method_types == ("card",)
    assert setup.client_secret and setup.client_secret.startswith(setup.id)
    assert "secret" not in repr(setup)

    confirm_setup_intent(localstripe, setup.id, "pm_card_visa")
    setup = stripe_gateway.retrieve_setup_intent(setup.id)
    assert setup.status is SetupIntentStatus.SUCCEEDED and setup.payment_method.startswith("pm_")
    # localstripe leaves the method unattached after the SetupIntent: the portal attaches it.
    assert stripe_gateway.retrieve_payment_method(setup.payment_method).customer is None

    method = stripe_gateway.attach_payment_method(setup.payment_method, customer=customer.id)
    assert method.customer == customer.id and method.type == "card"
    card = method.card
    assert (card.brand, card.last4, card.exp_month, card.exp_year, card.funding) == (
        "visa",
        "4242",
        12,
        2030,
        CardFunding.CREDIT,
    )
    assert stripe_gateway.detach_payment_method(method.id).customer is None


def test_a_card_declined_when_saved(stripe_gateway):
    customer = stripe_gateway.create_customer(name="Acme Ltd")
    with pytest.raises(CardDeclined) as caught:
        stripe_gateway.attach_payment_method("pm_card_visa_chargeDeclined", customer=customer.id)
    assert caught.value.code == "card_declined" and caught.value.http_status == 402
    assert str(caught.value) == "Your card was declined."


def test_off_session_charge_succeeds(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    intent = stripe_gateway.create_payment_intent(
        amount=12345,
        currency="EUR",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
        metadata={"payment_id": "42"},
        idempotency_key="payment-42-attempt-1",
    )
    assert intent.status is PaymentIntentStatus.SUCCEEDED and intent.succeeded
    assert (intent.amount, intent.currency, intent.customer, intent.payment_method) == (
        12345,
        "EUR",
        customer.id,
        method.id,
    )
    assert intent.latest_charge.startswith("ch_")  # localstripe expands it; read as an id
    assert intent.has_next_action is False and intent.decline_code is None
    assert stripe_gateway.retrieve_payment_intent(intent.id).metadata == {"payment_id": "42"}


def test_create_then_confirm_is_the_stored_id_path(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    intent = stripe_gateway.create_payment_intent(
        amount=5000,
        currency="usd",
        customer=customer.id,
        payment_method=method.id,
        idempotency_key="payment-43-create",
    )
    assert intent.status is PaymentIntentStatus.REQUIRES_CONFIRMATION
    confirmed = stripe_gateway.confirm_payment_intent(intent.id, idempotency_key="payment-43-confirm")
    assert confirmed.id == intent.id and confirmed.succeeded
    with pytest.raises(InvalidRequest):  # a succeeded intent cannot be cancelled
        stripe_gateway.cancel_payment_intent(intent.id)


def test_manual_capture_and_cancel(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    held = stripe_gateway.create_payment_intent(
        amount=2000,
        currency="usd",
        customer=customer.id,
        payment_method=method.id,
        confirm=True,
        capture_method="manual",
        idempotency_key="payment-44",
    )
    assert held.status is PaymentIntentStatus.REQUIRES_CAPTURE
    assert stripe_gateway.capture_payment_intent(held.id, idempotency_key="payment-44-capture").succeeded

    pending = stripe_gateway.create_payment_intent(
        amount=2000, currency="usd", customer=customer.id, payment_method=None, idempotency_key="payment-45"
    )
    assert stripe_gateway.cancel_payment_intent(pending.id).status is PaymentIntentStatus.CANCELED


@pytest.mark.parametrize("card", ["pm_card_chargeCustomerFail", "4000000000000341"])
def test_a_card_declined_when_charged(stripe_gateway, localstripe, card):
    payment_method = card if card.startswith("pm_") else card_payment_method(localstripe, card)
    customer, method = _customer_with_card(stripe_gateway, localstripe, payment_method)
    with pytest.raises(CardDeclined) as caught:
        stripe_gateway.create_payment_intent(
            amount=12345,
            currency="usd",
            customer=customer.id,
            payment_method=method.id,
            off_session=True,
            confirm=True,
            idempotency_key="payment-46",
        )
    assert caught.value.code == "card_declined" and caught.value.charge_id.startswith("ch_")
    assert caught.value.decline_code is None  # localstripe gives no issuer reason


def test_a_declined_confirmation_leaves_the_stored_intent_readable(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe, "pm_card_chargeCustomerFail")
    intent = stripe_gateway.create_payment_intent(
        amount=900, currency="usd", customer=customer.id, payment_method=method.id, idempotency_key="payment-47"
    )
    with pytest.raises(CardDeclined):
        stripe_gateway.confirm_payment_intent(intent.id, idempotency_key="payment-47-confirm")
    after = stripe_gateway.retrieve_payment_intent(intent.id)
    assert after.status is PaymentIntentStatus.REQUIRES_PAYMENT_METHOD
    assert after.decline_code == "card_declined"


def test_a_3d_secure_card_off_session_is_authentication_required(stripe_gateway, localstripe):
    customer, method = _customer_with_card(
        stripe_gateway, localstripe, card_payment_method(localstripe, "4000002500003155")
    )
    with pytest.raises(AuthenticationRequired) as caught:
        stripe_gateway.create_payment_intent(
            amount=12345,
            currency="usd",
            customer=customer.id,
            payment_method=method.id,
            off_session=True,
            confirm=True,
            idempotency_key="payment-48",
        )
    error = caught.value
    assert error.payment_intent_id and error.payment_intent.status is PaymentIntentStatus.REQUIRES_ACTION
    assert error.payment_intent.client_secret  # what Stripe.js needs to let the client authenticate
    assert error.code == "authentication_required" and not error.transient
    # The same outcome through the stored-id path.
    intent = stripe_gateway.create_payment_intent(
        amount=100, currency="usd", customer=customer.id, payment_method=method.id, idempotency_key="payment-49"
    )
    with pytest.raises(AuthenticationRequired) as again:
        stripe_gateway.confirm_payment_intent(intent.id, idempotency_key="payment-49-confirm")
    assert again.value.payment_intent_id == intent.id


def test_partial_then_full_refund(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    intent = stripe_gateway.create_payment_intent(
        amount=12345,
        currency="eur",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
        idempotency_key="payment-50",
    )
    partial = stripe_gateway.create_refund(
        payment_intent=intent.id, amount=2345, currency="EUR", idempotency_key="refund-1"
    )
    assert (partial.amount, partial.currency, partial.status, partial.payment_intent) == (
        2345,
        "EUR",
        "succeeded",
        intent.id,
    )
    assert partial.charge == intent.latest_charge
    rest = stripe_gateway.create_refund(payment_intent=intent.id, idempotency_key="refund-2")
    assert rest.amount == 12345  # localstripe refunds the charge's full amount when none is given
    assert stripe_gateway.retrieve_refund(partial.id).amount == 2345


def test_refunding_a_failed_payment_is_refused(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe, "pm_card_chargeCustomerFail")
    intent = stripe_gateway.create_payment_intent(
        amount=900, currency="usd", customer=customer.id, payment_method=method.id, idempotency_key="payment-51"
    )
    with pytest.raises(CardDeclined):
        stripe_gateway.confirm_payment_intent(intent.id, idempotency_key="payment-51-confirm")
    with pytest.raises(InvalidRequest):
        stripe_gateway.create_refund(payment_intent=intent.id, idempotency_key="refund-3")


def test_localstripe_ignores_idempotency_keys(stripe_gateway, localstripe):
    """Why the portal stores the intent id before confirming: the same key makes two intents here."""
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    first, second = (
        stripe_gateway.create_payment_intent(
            amount=700, currency="usd", customer=customer.id, payment_method=method.id, idempotency_key="same-key"
        )
        for _ in range(2)
    )
    assert first.id != second.id


def test_find_payment_intents_by_metadata(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    for payment_id in ("42", "43", "42"):
        stripe_gateway.create_payment_intent(
            amount=700,
            currency="usd",
            customer=customer.id,
            payment_method=method.id,
            metadata={"payment_id": payment_id},
            idempotency_key=f"payment-{payment_id}",
        )
    found = stripe_gateway.find_payment_intents(metadata_key="payment_id", value="42")
    assert len(found) == 2 and {intent.metadata["payment_id"] for intent in found} == {"42"}
    # localstripe has no search: the gateway asked, got 404, then listed.
    assert stripe_gateway.request_counts["GET /v1/payment_intents/search"] == 1
    assert stripe_gateway.request_counts["GET /v1/payment_intents"] == 1
    with pytest.raises(ValueError):
        stripe_gateway.find_payment_intents(metadata_key="payment_id", value="x' OR '1")


def test_events_are_listed_by_type_and_time(stripe_gateway, localstripe):
    customer, method = _customer_with_card(stripe_gateway, localstripe)
    intent = stripe_gateway.create_payment_intent(
        amount=700,
        currency="usd",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
        idempotency_key="payment-52",
    )
    everything = list(stripe_gateway.list_events(page_size=2))  # several pages
    assert {"customer.created", "payment_intent.succeeded"} <= {event.type for event in everything}
    assert len({event.id for event in everything}) == len(everything)

    succeeded = list(stripe_gateway.list_events(types=["payment_intent.succeeded"]))
    assert [(e.type, e.object_type, e.object_id) for e in succeeded] == [
        ("payment_intent.succeeded", "payment_intent", intent.id)
    ]
    event = stripe_gateway.retrieve_event(succeeded[0].id)
    assert event.data_object["amount"] == 700 and event.api_version == "2017-08-15"

    newest = max(event.created for event in everything)
    assert list(stripe_gateway.list_events(created_gte=int(newest.timestamp()) + 3600)) == []
    assert len(list(stripe_gateway.list_events(created_gte=min(e.created for e in everything)))) == len(everything)


def test_ids_that_would_change_the_path_are_refused(stripe_gateway):
    with pytest.raises(ValueError):
        stripe_gateway.retrieve_payment_intent("pi_1/../../v1/customers")
    with pytest.raises(ValueError):
        stripe_gateway.retrieve_customer("pi_123")
    assert stripe_gateway.request_count == 0


def test_the_pacer_sees_every_request_and_the_counter_counts_them(localstripe):
    paced: list[str] = []
    gateway = StripeGateway(
        "sk_test_portal_localstripe", api_base=localstripe.url, max_network_retries=0, pacer=paced.append
    )
    customer, method = _customer_with_card(gateway, localstripe)
    gateway.create_payment_intent(
        amount=100,
        currency="usd",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
        idempotency_key="payment-53",
    )
    assert paced == [
        "POST /v1/customers",
        "POST /v1/setup_intents",
        "POST /v1/payment_methods/{id}/attach",
        "POST /v1/payment_intents",
    ]
    assert gateway.request_count == 4
    assert gateway.request_counts == {key: 1 for key in paced}
