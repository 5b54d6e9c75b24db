"""XeroClient error mapping: 401 refresh-once, 403, 404, 400 validation, 429, 5xx, timeouts,
dropped connections, oversized answers; reads are retried, writes never."""

from __future__ import annotations

import socket
from datetime import date
from decimal import Decimal

import pytest

from integrations.base import IntegrationError, IntegrationRateLimited
from providers.xero.exceptions import (
    PermissionProblem,
    RateLimitProblem,
    XeroAuthError,
    XeroBadResponse,
    XeroError,
    XeroGrantRevoked,
    XeroNotFound,
    XeroPermissionDenied,
    XeroRateLimited,
    XeroResponseTooLarge,
    XeroTimeout,
    XeroUnavailable,
    XeroValidationError,
)
from providers.xero.types import PaymentDraft

from .conftest import TokenProvider
from .payloads import INVOICE_ID, PAYMENT_ID, invoice, organisation, payment, validation_error
from .stub import Reply, json_reply, problem_reply, xero_reply

ORG = "/Organisation"


def org_ok() -> Reply:
    return xero_reply({"Organisations": [organisation()]})


def draft() -> PaymentDraft:
    return PaymentDraft(INVOICE_ID, Decimal("50.00"), date(2024, 6, 1), account_code="090")


def bearer(stub, path: str) -> list[str]:
    return [s.headers["Authorization"] for s in stub.api_calls(path)]


# --- 401 / 403 -------------------------------------------------------------------------------------


def test_401_refreshes_once_and_replays(stub, make_client, tokens):
    stub.api("GET", ORG, problem_reply(401, "TokenExpired: token expired at 06/01/2024 10:00:00"), org_ok())
    assert make_client().get_organisation().name == "Demo MSP (NZ)"
    assert tokens.calls == [False, True]
    assert bearer(stub, ORG) == ["Bearer acc-1", "Bearer acc-2"]


def test_a_second_401_is_an_auth_error(stub, make_client, tokens):
    stub.api("GET", ORG, problem_reply(401, "AuthenticationUnsuccessful"))
    with pytest.raises(XeroAuthError) as err:
        make_client().get_organisation()
    assert type(err.value) is XeroAuthError and err.value.status_code == 401 and not err.value.transient
    assert tokens.calls == [False, True] and len(stub.api_calls(ORG)) == 2


def test_create_payment_is_replayed_after_a_401(stub, make_client, tokens):
    # A 401 means Xero processed nothing: replaying the write with a fresh token is safe.
    stub.api("PUT", "/Payments", problem_reply(401, "TokenExpired"), xero_reply({"Payments": [payment()]}))
    assert make_client().create_payment(draft()).payment_id == PAYMENT_ID
    assert bearer(stub, "/Payments") == ["Bearer acc-1", "Bearer acc-2"]


def test_revoked_grant_from_the_provider_passes_through(stub, make_client):
    def provider(*, force_refresh: bool = False) -> str:
        if force_refresh:
            raise XeroGrantRevoked("The Xero authorization is no longer valid; reconnect Xero.")
        return "acc-1"

    stub.api("GET", ORG, problem_reply(401, "TokenExpired"))
    with pytest.raises(XeroGrantRevoked):
        make_client(provider=provider).get_organisation()
    assert len(stub.api_calls(ORG)) == 1


def test_missing_scope_is_permission_denied_without_a_refresh(stub, make_client, tokens):
    stub.api("GET", ORG, problem_reply(401, "AuthorizationUnsuccessful"))
    with pytest.raises(XeroPermissionDenied) as err:
        make_client().get_organisation()
    assert err.value.problem == PermissionProblem.MISSING_SCOPE
    assert tokens.calls == [False]


def test_403_disconnected_organisation(stub, make_client):
    stub.api("GET", ORG, problem_reply(403, "AuthenticationUnsuccessful"))
    with pytest.raises(XeroPermissionDenied) as err:
        make_client().get_organisation()
    assert err.value.problem == PermissionProblem.TENANT_NOT_CONNECTED and err.value.status_code == 403
    assert len(stub.api_calls(ORG)) == 1


def test_other_403(stub, make_client):
    stub.api("GET", ORG, problem_reply(403, "Forbidden"))
    with pytest.raises(XeroPermissionDenied) as err:
        make_client().get_organisation()
    assert err.value.problem == PermissionProblem.FORBIDDEN


# --- 404 / 400 -------------------------------------------------------------------------------------


def test_404_is_not_found(stub, make_client):
    stub.replies_are_realistic = False  # Xero's 404 is a bare text answer, undocumented
    stub.api("GET", f"/Invoices/{INVOICE_ID}", Reply(404, b"The resource you're looking for cannot be found"))
    with pytest.raises(XeroNotFound) as err:
        make_client().get_invoice(INVOICE_ID)
    assert err.value.status_code == 404 and len(stub.api_calls(f"/Invoices/{INVOICE_ID}")) == 1


def test_400_validation_error_carries_every_message(stub, make_client):
    stub.api(
        "PUT",
        "/Payments",
        xero_reply(
            validation_error(
                "Payment amount exceeds the amount outstanding on this document",
                "Payments cannot be made to invoices that are not AUTHORISED",
            ),
            400,
        ),
    )
    with pytest.raises(XeroValidationError) as err:
        make_client().create_payment(draft())
    assert err.value.messages == (
        "Payment amount exceeds the amount outstanding on this document",
        "Payments cannot be made to invoices that are not AUTHORISED",
    )
    assert "exceeds the amount outstanding" in err.value.message
    assert (err.value.error_type, err.value.error_number, err.value.status_code) == ("ValidationException", 10, 400)
    assert not err.value.transient and len(stub.api_calls("/Payments")) == 1


def test_200_with_validation_errors_on_the_record(stub, make_client):
    refused = payment(HasValidationErrors=True, ValidationErrors=[{"Message": "Invoice not of valid status"}])
    stub.api("PUT", "/Payments", xero_reply({"Payments": [refused]}))
    with pytest.raises(XeroValidationError) as err:
        make_client().create_payment(draft())
    assert err.value.messages == ("Invoice not of valid status",) and err.value.status_code == 200


def test_400_query_parse_error(stub, make_client):
    stub.replies_are_realistic = False  # GET /Invoices documents no 400 answer
    body = {"ErrorNumber": 16, "Type": "QueryParseException", "Message": "No property or field 'Nope' exists"}
    stub.api("GET", "/Invoices", json_reply(body, 400))
    with pytest.raises(XeroValidationError) as err:
        make_client().list_invoices(where='Nope=="x"')
    assert err.value.error_type == "QueryParseException"
    assert err.value.messages == ("No property or field 'Nope' exists",)


# --- 429 -------------------------------------------------------------------------------------------


def test_429_with_a_short_retry_after_waits_and_retries(stub, make_client, sleeps):
    limited = Reply(429, b"", {"Retry-After": "7", "X-Rate-Limit-Problem": "minute", "X-MinLimit-Remaining": "0"})
    stub.api("GET", ORG, limited, org_ok())
    client = make_client(backoff_base=0.1)
    client.get_organisation()
    assert len(sleeps.calls) == 1 and 7 <= sleeps.calls[0] <= 7.1
    assert client.last_limits is not None and client.last_limits.minute_remaining == 59


def test_429_with_a_long_retry_after_is_raised(stub, make_client, sleeps):
    stub.api("GET", ORG, Reply(429, b"", {"Retry-After": "120", "X-Rate-Limit-Problem": "minute"}))
    with pytest.raises(XeroRateLimited) as err:
        make_client(max_rate_limit_wait=60).get_organisation()
    assert (err.value.retry_after, err.value.problem, err.value.transient) == (120, RateLimitProblem.MINUTE, True)
    assert isinstance(err.value, IntegrationRateLimited)
    assert len(stub.api_calls(ORG)) == 1 and sleeps.calls == []


def test_the_wait_limit_is_configurable(stub, make_client, sleeps):
    stub.api("GET", ORG, Reply(429, b"", {"Retry-After": "120", "X-Rate-Limit-Problem": "minute"}), org_ok())
    make_client(max_rate_limit_wait=300).get_organisation()
    assert sleeps.calls and sleeps.calls[0] >= 120


def test_daily_limit_is_never_waited_for(stub, make_client, sleeps):
    stub.api(
        "GET", ORG, Reply(429, b"", {"Retry-After": "30", "X-Rate-Limit-Problem": "day", "X-DayLimit-Remaining": "0"})
    )
    client = make_client()
    with pytest.raises(XeroRateLimited) as err:
        client.get_organisation()
    assert err.value.problem == RateLimitProblem.DAY and err.value.retry_after == 30
    assert sleeps.calls == [] and client.last_limits.day_remaining == 0


def test_concurrent_limit_without_retry_after_backs_off(stub, make_client, sleeps):
    stub.api("GET", ORG, Reply(429, b"", {"X-Rate-Limit-Problem": "concurrent"}), org_ok())
    make_client(backoff_base=0.5).get_organisation()
    assert len(sleeps.calls) == 1 and 0 <= sleeps.calls[0] <= 0.5


# --- 5xx, timeouts, connections ----------------------------------------------------------------------


def test_5xx_on_reads_is_retried_with_capped_jitter(stub, make_client, sleeps):
    stub.api("GET", ORG, Reply(503), Reply(500), Reply(502), org_ok())
    make_client(backoff_base=1, backoff_cap=3).get_organisation()
    assert len(sleeps.calls) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps.calls, [1, 2, 3], strict=True))


def test_5xx_gives_up_after_max_attempts(stub, make_client):
    stub.api("GET", ORG, Reply(503, b"The Xero API is currently offline for maintenance"))
    with pytest.raises(XeroUnavailable) as err:
        make_client(max_attempts=3).get_organisation()
    assert err.value.status_code == 503 and err.value.transient
    assert len(stub.api_calls(ORG)) == 3


@pytest.mark.parametrize(
    "reply",
    [Reply(500), Reply(503), Reply(drop=True), Reply(delay=0.6), Reply(429, b"", {"Retry-After": "1"})],
    ids=["500", "503", "drop", "timeout", "429"],
)
def test_writes_are_never_retried(stub, make_client, sleeps, reply):
    stub.api("PUT", "/Payments", reply, xero_reply({"Payments": [payment()]}))
    stub.api("POST", f"/Payments/{PAYMENT_ID}", reply, xero_reply({"Payments": [payment()]}))
    client = make_client(timeout=(1, 0.3))
    with pytest.raises(XeroError) as err:
        client.create_payment(draft(), idempotency_key="k-1")
    assert err.value.transient
    with pytest.raises(XeroError):
        client.reverse_payment(PAYMENT_ID)
    assert len(stub.api_calls("/Payments")) == 1 and len(stub.api_calls(f"/Payments/{PAYMENT_ID}")) == 1
    assert sleeps.calls == []


def test_read_timeout_is_retried(stub, make_client):
    stub.api("GET", ORG, Reply(delay=1.0), org_ok())
    make_client(timeout=(1, 0.3)).get_organisation()
    assert len(stub.api_calls(ORG)) == 2


def test_timeout_after_every_attempt(stub, make_client):
    stub.api("GET", ORG, Reply(delay=0.6))
    with pytest.raises(XeroTimeout) as err:
        make_client(timeout=(1, 0.2), max_attempts=2).get_organisation()
    assert err.value.transient and len(stub.api_calls(ORG)) == 2


def test_dropped_connection_is_retried_for_reads(stub, make_client):
    stub.api("GET", ORG, Reply(drop=True), Reply(drop=True), org_ok())
    make_client().get_organisation()
    assert len(stub.api_calls(ORG)) == 3


def test_connection_refused_is_unavailable(make_client, sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(XeroUnavailable) as err:
        make_client(url=f"http://127.0.0.1:{port}/api.xro/2.0", max_attempts=2).get_organisation()
    assert err.value.transient and len(sleeps.calls) == 1


# --- answers we cannot use -----------------------------------------------------------------------


def test_oversized_answer(stub, make_client):
    stub.api("GET", "/Invoices", xero_reply({"Invoices": [invoice(i) for i in range(50)]}))
    with pytest.raises(XeroResponseTooLarge):
        make_client(max_response_bytes=10_000).list_invoices()
    assert len(stub.api_calls("/Invoices")) == 1  # not retried: it would be as large again


def test_html_answer_is_a_bad_response(stub, make_client):
    stub.replies_are_realistic = False
    stub.api("GET", ORG, Reply(200, b"<!doctype html><html></html>", {"Content-Type": "text/html"}))
    with pytest.raises(XeroBadResponse, match="text/html"):
        make_client().get_organisation()


def test_redirect_is_not_followed(stub, make_client):
    stub.replies_are_realistic = False
    stub.api("GET", ORG, Reply(302, b"", {"Location": "https://login.example.com/"}))
    with pytest.raises(XeroBadResponse, match="login.example.com"):
        make_client().get_organisation()
    assert len(stub.seen) == 1


def test_unexpected_shapes(stub, make_client):
    stub.replies_are_realistic = False
    client = make_client()
    stub.api("GET", "/Invoices", xero_reply({"Invoices": {"not": "a list"}}))
    with pytest.raises(XeroBadResponse):
        client.list_invoices()
    stub.api("GET", "/Invoices", xero_reply({"Invoices": [{"InvoiceNumber": "no id"}]}))
    with pytest.raises(XeroBadResponse):
        client.list_invoices()


def test_every_error_is_an_integration_error_and_hides_tokens(stub, make_client):
    provider = TokenProvider("acc-SECRET-1", "acc-SECRET-2")
    stub.api("GET", ORG, problem_reply(401, "AuthenticationUnsuccessful"))
    client = make_client(provider=provider)
    with pytest.raises(IntegrationError) as err:
        client.get_organisation()
    for text in (str(err.value), repr(err.value), repr(client), str(err.value.__cause__)):
        assert "SECRET" not in text
