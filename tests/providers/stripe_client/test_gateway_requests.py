"""What localstripe cannot show: the requests the gateway sends, and Stripe's error answers
(in Stripe's JSON shape, from a scripted server) mapped to the gateway's errors."""

from __future__ import annotations

import socket

import pytest
import stripe

from integrations.base import IntegrationError, IntegrationRateLimited
from providers.stripe.client import STRIPE_API_VERSION, StripeGateway
from providers.stripe.exceptions import (
    AuthenticationFailed,
    AuthenticationRequired,
    CardDeclined,
    IdempotencyConflict,
    InvalidRequest,
    PermissionDenied,
    StripeRateLimited,
    StripeUnavailable,
)
from providers.stripe.types import PaymentIntentStatus

from .stub import Reply, StripeStub, payment_intent, stripe_error

KEY = "sk_test_51StubSecretKey0123456789abcd"
PI_CREATE = ("POST", "/v1/payment_intents")


@pytest.fixture
def stub():
    with StripeStub() as server:
        yield server


def gateway(stub: StripeStub, **options) -> StripeGateway:
    options.setdefault("max_network_retries", 0)
    return StripeGateway(KEY, api_base=stub.url, timeout=5, **options)


def charge(gw: StripeGateway, key: str = "payment-42-attempt-1"):
    return gw.create_payment_intent(
        amount=12345,
        currency="usd",
        customer="cus_stub1",
        payment_method="pm_stub1",
        off_session=True,
        confirm=True,
        metadata={"payment_id": "42"},
        idempotency_key=key,
    )


def test_the_api_version_is_pinned_to_the_librarys():
    # Upgrading stripe must be a decision about the API version too.
    assert stripe.api_version == STRIPE_API_VERSION


def test_every_post_carries_the_callers_idempotency_key_and_every_request_the_pinned_version(stub):
    stub.on(*PI_CREATE, Reply(200, payment_intent(status="requires_confirmation")))
    stub.on("POST", "/v1/payment_intents/pi_stub1/confirm", Reply(200, payment_intent()))
    stub.on("POST", "/v1/payment_intents/pi_stub1/capture", Reply(200, payment_intent()))
    stub.on("POST", "/v1/refunds", Reply(200, {"id": "re_1", "amount": 100, "currency": "usd", "status": "succeeded"}))
    stub.on("POST", "/v1/customers", Reply(200, {"id": "cus_stub1", "metadata": {}}))
    stub.on("GET", "/v1/payment_intents/pi_stub1", Reply(200, payment_intent()))
    gw = gateway(stub)

    gw.create_payment_intent(
        amount=12345, currency="USD", customer="cus_stub1", payment_method="pm_stub1", idempotency_key="k-create"
    )
    gw.confirm_payment_intent("pi_stub1", idempotency_key="k-confirm", off_session=True)
    gw.capture_payment_intent("pi_stub1", idempotency_key="k-capture", amount_to_capture=100)
    gw.create_refund(payment_intent="pi_stub1", amount=100, reason="requested_by_customer", idempotency_key="k-refund")
    gw.create_customer(name="Acme", idempotency_key="k-customer")
    gw.retrieve_payment_intent("pi_stub1")

    posts = [seen for seen in stub.seen if seen.method == "POST"]
    assert [seen.headers["idempotency-key"] for seen in posts] == [
        "k-create",
        "k-confirm",
        "k-capture",
        "k-refund",
        "k-customer",
    ]
    assert {seen.headers["stripe-version"] for seen in stub.seen} == {STRIPE_API_VERSION}
    assert {seen.headers["authorization"] for seen in stub.seen} == {f"Bearer {KEY}"}
    create, confirm, capture, refund = (seen.form for seen in posts[:4])
    assert create["amount"] == ["12345"] and create["currency"] == ["usd"]
    assert create["payment_method_types[0]"] == ["card"] and "confirm" not in create and "off_session" not in create
    assert confirm == {"off_session": ["true"]}
    assert capture == {"amount_to_capture": ["100"]}
    assert refund["reason"] == ["requested_by_customer"] and refund["amount"] == ["100"]


def test_network_retries_reuse_the_key_and_each_attempt_is_paced_and_counted(stub):
    stub.on(*PI_CREATE, stripe_error(500, "api_error", "Something went wrong"), Reply(200, payment_intent()))
    paced: list[str] = []
    gw = gateway(stub, max_network_retries=1, pacer=paced.append)
    assert charge(gw, key="payment-42-attempt-1").succeeded
    assert [seen.headers["idempotency-key"] for seen in stub.seen] == ["payment-42-attempt-1"] * 2
    assert paced == ["POST /v1/payment_intents"] * 2
    assert gw.request_counts == {"POST /v1/payment_intents": 2} and gw.request_count == 2


def test_the_pacer_runs_before_each_request_and_can_refuse_it(stub):
    stub.on("GET", "/v1/payment_intents/pi_stub1", Reply(200, payment_intent()))
    stub.on("GET", "/v1/customers/cus_stub1", Reply(200, {"id": "cus_stub1"}))
    paced: list[str] = []

    def pacer(endpoint: str) -> None:
        paced.append(endpoint)
        if len(paced) > 2:
            raise StripeRateLimited("Payments budget spent", retry_after=0.04)

    gw = gateway(stub, pacer=pacer)
    gw.retrieve_payment_intent("pi_stub1")
    gw.retrieve_customer("cus_stub1")
    with pytest.raises(StripeRateLimited) as caught:
        gw.retrieve_payment_intent("pi_stub1")
    assert caught.value.retry_after == 0.04
    assert paced == ["GET /v1/payment_intents/{id}", "GET /v1/customers/{id}", "GET /v1/payment_intents/{id}"]
    assert len(stub.seen) == 2 and gw.request_count == 2  # the refused request was never sent


def test_money_moving_posts_require_a_key(stub):
    gw = gateway(stub)
    with pytest.raises(ValueError, match="idempotency_key"):
        charge(gw, key="")
    with pytest.raises(ValueError, match="idempotency_key"):
        gw.confirm_payment_intent("pi_stub1", idempotency_key=None)
    with pytest.raises(ValueError, match="idempotency_key"):
        gw.create_refund(payment_intent="pi_stub1", idempotency_key="")
    with pytest.raises(ValueError):
        charge(gw, key="x" * 256)
    with pytest.raises(ValueError):  # KWD amounts must end in 0
        gw.create_payment_intent(
            amount=5124, currency="kwd", customer=None, payment_method=None, idempotency_key="payment-1"
        )
    with pytest.raises(ValueError, match="off_session"):
        gw.create_payment_intent(
            amount=100, currency="usd", customer=None, payment_method=None, off_session=True, idempotency_key="p"
        )
    assert stub.seen == []


def test_402_authentication_required_is_the_normalized_outcome(stub):
    intent = payment_intent(
        status="requires_payment_method",
        last_payment_error={"code": "authentication_required", "decline_code": "authentication_required"},
    )
    stub.on(
        *PI_CREATE,
        stripe_error(
            402,
            "card_error",
            "Your card was declined. This transaction requires authentication.",
            code="authentication_required",
            decline_code="authentication_required",
            payment_intent=intent,
        ),
    )
    with pytest.raises(AuthenticationRequired) as caught:
        charge(gateway(stub))
    error = caught.value
    assert error.payment_intent_id == "pi_stub1" and error.http_status == 402
    assert error.payment_intent.status is PaymentIntentStatus.REQUIRES_PAYMENT_METHOD
    assert error.request_id == "req_stub"


def test_402_card_declined_carries_the_issuers_reason(stub):
    stub.on(
        *PI_CREATE,
        stripe_error(
            402,
            "card_error",
            "Your card has insufficient funds.",
            code="card_declined",
            decline_code="insufficient_funds",
            charge="ch_stub9",
            payment_intent=payment_intent(status="requires_payment_method"),
        ),
    )
    with pytest.raises(CardDeclined) as caught:
        charge(gateway(stub))
    error = caught.value
    assert (error.decline_code, error.code, error.charge_id, error.payment_intent_id) == (
        "insufficient_funds",
        "card_declined",
        "ch_stub9",
        "pi_stub1",
    )
    assert str(error) == "Your card has insufficient funds." and not error.transient


def test_429_is_rate_limited_with_retry_after(stub):
    stub.on(
        *PI_CREATE,
        Reply(
            429,
            {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}},
            {"Retry-After": "2"},
        ),
    )
    with pytest.raises(StripeRateLimited) as caught:
        charge(gateway(stub))
    assert isinstance(caught.value, IntegrationRateLimited)
    assert caught.value.transient and caught.value.retry_after == 2.0


def test_500_is_unavailable_after_the_librarys_retries(stub):
    stub.on(*PI_CREATE, stripe_error(500, "api_error", "An unknown error occurred"))
    gw = gateway(stub, max_network_retries=2)
    with pytest.raises(StripeUnavailable) as caught:
        charge(gw)
    assert caught.value.transient and caught.value.http_status == 500
    assert gw.request_count == 3


def test_401_is_authentication_failed_without_the_key(stub):
    stub.on(
        "GET", "/v1/account", stripe_error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****abcd")
    )
    with pytest.raises(AuthenticationFailed) as caught:
        gateway(stub).retrieve_account()
    assert "sk_test" not in str(caught.value) and "abcd" not in str(caught.value)
    assert isinstance(caught.value, IntegrationError) and not caught.value.transient


@pytest.mark.parametrize(
    ("reply", "expected", "transient"),
    [
        (stripe_error(403, "invalid_request_error", "The provided key does not have access"), PermissionDenied, False),
        (
            stripe_error(
                400, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters"
            ),
            IdempotencyConflict,
            False,
        ),
        (
            stripe_error(
                409,
                "invalid_request_error",
                "There is currently another in-progress request using this Idempotent Key",
                code="idempotency_key_in_use",
            ),
            IdempotencyConflict,
            True,
        ),
        (
            stripe_error(
                400, "invalid_request_error", "Invalid integer: abc", code="parameter_invalid_integer", param="amount"
            ),
            InvalidRequest,
            False,
        ),
        (Reply(502, "<html>Bad gateway</html>"), StripeUnavailable, True),
    ],
)
def test_other_answers_map_to_one_error_each(stub, reply, expected, transient):
    stub.on(*PI_CREATE, reply)
    with pytest.raises(expected) as caught:
        charge(gateway(stub))
    assert type(caught.value) is expected and caught.value.transient is transient
    if expected is InvalidRequest:
        assert caught.value.param == "amount" and caught.value.code == "parameter_invalid_integer"


def test_connection_refused_and_timeouts_are_unavailable(stub):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    gw = StripeGateway(KEY, api_base=f"http://127.0.0.1:{closed_port}", max_network_retries=0, timeout=2)
    with pytest.raises(StripeUnavailable) as caught:
        gw.retrieve_customer("cus_stub1")
    assert caught.value.transient and KEY not in str(caught.value)
    assert gw.request_count == 1


def test_account_fields_from_real_stripes_shape(stub):
    stub.on(
        "GET",
        "/v1/account",
        Reply(
            200,
            {
                "id": "acct_1",
                "object": "account",
                "country": "US",
                "default_currency": "usd",
                "charges_enabled": True,
                "payouts_enabled": False,
                "settings": {"dashboard": {"display_name": "Acme MSP"}},
            },
        ),
    )
    account = gateway(stub).retrieve_account()
    assert (account.id, account.display_name, account.default_currency, account.charges_enabled) == (
        "acct_1",
        "Acme MSP",
        "USD",
        True,
    )


def test_search_query_and_pages_on_a_server_with_search(stub):
    first = {"object": "search_result", "data": [payment_intent("pi_a")], "has_more": True, "next_page": "page2"}
    second = {"object": "search_result", "data": [payment_intent("pi_b")], "has_more": False, "next_page": None}
    stub.on("GET", "/v1/payment_intents/search", Reply(200, first), Reply(200, second))
    found = gateway(stub).find_payment_intents(metadata_key="payment_id", value="42")
    assert [intent.id for intent in found] == ["pi_a", "pi_b"]
    assert stub.seen[0].form["query"] == ["metadata['payment_id']:'42'"]
    assert stub.seen[1].form["page"] == ["page2"]


def test_several_event_types_use_stripes_types_filter(stub):
    stub.on("GET", "/v1/events", Reply(200, {"object": "list", "data": [], "has_more": False}))
    gw = gateway(stub)
    list(gw.list_events(types=["payment_intent.succeeded", "payment_intent.payment_failed"], created_gte=1700000000))
    list(gw.list_events(types=["charge.refunded"]))
    several, one = (seen.form for seen in stub.seen)
    assert several["types[0]"] == ["payment_intent.succeeded"] and several["types[1]"] == [
        "payment_intent.payment_failed"
    ]
    assert several["created[gte]"] == ["1700000000"]
    assert one["type"] == ["charge.refunded"] and "types[0]" not in one


def test_the_librarys_log_never_shows_a_key(stub, caplog):
    stub.on(
        "GET", "/v1/account", stripe_error(401, "invalid_request_error", "Invalid API Key provided: sk_test_****abcd")
    )
    with caplog.at_level("INFO", logger="stripe"), pytest.raises(AuthenticationFailed):
        gateway(stub).retrieve_account()
    logged = "\n".join(record.getMessage() for record in caplog.records if record.name == "stripe")
    assert "Invalid API Key provided" in logged  # the library did log the error...
    assert "sk_test" not in logged and KEY not in logged  # ...with the key redacted
