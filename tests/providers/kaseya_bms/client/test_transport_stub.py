"""The transport against a scripted local HTTP server: sign-in and tokens, the envelope, error
mapping and retries (``providers.kaseya_bms.transport`` and ``.envelope``, driven through ``BmsClient``)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsError,
    BmsNotABmsServer,
    BmsNotFound,
    BmsPermissionDenied,
    BmsRateLimited,
    BmsRequestRejected,
    BmsResponseTooLarge,
    BmsTimeout,
    BmsTlsError,
    BmsUnavailable,
)

from .conftest import PASSWORD
from .stub import ACCOUNTS, AUTH, QUEUES, REFRESH, TICKETS, Reply, draft, failed, json_reply, ok, queue, token_reply

# --- construction ---------------------------------------------------------------------------------


def test_invalid_server_url_rejected():
    with pytest.raises(ValueError):
        BmsClient("api.bms.kaseya.com", "c", "u", "p")


def test_secrets_stay_hidden(stub, make_client):
    stub.on("GET", QUEUES, failed("Security Error", 978001, status=401))
    client = make_client()
    assert PASSWORD not in repr(client) and "tok-" not in repr(client)
    with pytest.raises(BmsError) as err:
        client.list_queues()
    for text in (str(err.value), repr(err.value)):
        assert PASSWORD not in text and "tok-1" not in text and "ref-1" not in text


# --- sign-in and tokens ---------------------------------------------------------------------------


def test_lazy_form_login_then_bearer(stub, make_client):
    stub.on("GET", QUEUES, ok([queue(1)]))
    client = make_client()
    assert stub.seen == []
    assert [q.name for q in client.list_queues()] == ["Q1"]
    login = stub.calls(AUTH)[0]
    assert login.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert login.form == {
        "GrantType": "password",
        "UserName": "api@demo.local",
        "Password": PASSWORD,
        "Tenant": "Demo MSP",
    }
    assert stub.calls(QUEUES)[0].headers["Authorization"] == "Bearer tok-1"
    client.list_queues()
    assert len(stub.calls(AUTH)) == 1
    assert client.request_counts == {"POST /v2/security/authenticate": 1, "GET /v2/system/queues/lookup": 2}


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (failed("Tenant 'Nope' was not found", status=400), AuthFailureReason.WRONG_TENANT),
        (failed("Invalid username or password", status=401), AuthFailureReason.WRONG_CREDENTIALS),
        (failed("User does not have API access"), AuthFailureReason.NO_API_ACCESS),
        (failed("Something else", code=978004, status=400), AuthFailureReason.NO_API_ACCESS),
    ],
)
def test_login_failure_reasons(stub, make_client, reply, reason):
    stub.on("POST", AUTH, reply)
    with pytest.raises(BmsAuthenticationError) as err:
        make_client().authenticate()
    assert err.value.reason == reason
    assert len(stub.calls(AUTH)) == 1  # not retried


def test_401_refreshes_and_replays_once(stub, make_client):
    stub.on("GET", QUEUES, failed("Security Error", 978001, status=401), ok([queue(1)]))
    client = make_client()
    assert len(client.list_queues()) == 1
    assert stub.calls(REFRESH)[0].form == {"AccessToken": "tok-1", "RefreshToken": "ref-1"}
    assert [c.headers["Authorization"] for c in stub.calls(QUEUES)] == ["Bearer tok-1", "Bearer tok-2"]


def test_refused_refresh_falls_back_to_login(stub, make_client):
    stub.on("GET", QUEUES, failed("Security Error", 978001, status=401), ok([queue(1)]))
    stub.on("POST", REFRESH, failed("Invalid refresh token", status=400))
    stub.on("POST", AUTH, token_reply("tok-1"), token_reply("tok-3"))
    make_client().list_queues()
    assert len(stub.calls(AUTH)) == 2
    assert stub.calls(QUEUES)[-1].headers["Authorization"] == "Bearer tok-3"


def test_persistent_401_raises_token_rejected(stub, make_client):
    stub.on("GET", QUEUES, failed("Security Error", 978001, status=401))
    with pytest.raises(BmsAuthenticationError) as err:
        make_client().list_queues()
    assert err.value.reason == AuthFailureReason.TOKEN_REJECTED
    assert len(stub.calls(QUEUES)) == 2


def test_refreshes_shortly_before_expiry(stub, make_client):
    now = [datetime(2030, 1, 1, tzinfo=UTC).timestamp()]
    stub.on("POST", AUTH, token_reply(expires="2030-01-01T00:15:00Z"))
    stub.on("POST", REFRESH, token_reply("tok-2", expires="2030-01-01T00:30:00Z"))
    stub.on("GET", QUEUES, ok([]))
    client = make_client(clock=lambda: now[0])
    client.list_queues()
    now[0] += 13 * 60
    client.list_queues()
    assert not stub.calls(REFRESH)
    now[0] += 60 + 1  # inside the 60 s margin
    client.list_queues()
    assert len(stub.calls(REFRESH)) == 1
    assert stub.calls(QUEUES)[-1].headers["Authorization"] == "Bearer tok-2"


def test_auth_endpoint_404_is_not_a_bms_server(stub, make_client):
    stub.on("POST", AUTH, Reply(404, b"<html>Not Found</html>", {"Content-Type": "text/html"}))
    with pytest.raises(BmsNotABmsServer):
        make_client().authenticate()


# --- envelope and error mapping -------------------------------------------------------------------


def test_pascal_case_envelope_and_dates(stub, make_client):
    stub.on(
        "POST",
        AUTH,
        json_reply(
            {
                "Success": True,
                "Result": {"AccessToken": "P", "RefreshToken": "R", "AccessTokenExpireOn": "2999-01-01T00:00:00"},
            }
        ),
    )
    stub.on(
        "GET",
        ACCOUNTS,
        json_reply(
            {
                "Success": True,
                "TotalRecords": 1,
                "Result": [
                    {
                        "Id": 7,
                        "AccountName": "Acme",
                        "AccountCode": "ACME",
                        "IsActive": True,
                        "CreatedOn": "2024-01-02T03:04:05",
                        "ModifiedOn": "2024-01-02T05:04:05.1234567+02:00",
                        "CreditLimit": 1000.10,
                        "Locations": [
                            {
                                "Id": 1,
                                "LocationName": "HQ",
                                "IsMain": True,
                                "Addresses": [
                                    {"Address1": "1 Main", "IsBilling": False},
                                    {"Address1": "PO Box 9", "IsBilling": True},
                                ],
                            }
                        ],
                    }
                ],
            }
        ),
    )
    page = make_client().list_accounts()
    account = page.items[0]
    assert (account.id, account.name, account.code, page.total_records) == (7, "Acme", "ACME", 1)
    assert account.created_on == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert account.modified_on == datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert account.credit_limit == Decimal("1000.10")
    assert account.billing_address is not None and account.billing_address.address1 == "PO Box 9"
    assert stub.calls(ACCOUNTS)[0].headers["Authorization"] == "Bearer P"


def test_bare_dto_and_envelope_for_get_account(stub, make_client):
    stub.on("GET", ACCOUNTS + "/3", json_reply({"id": 3, "accountName": "Bare"}))
    stub.on("GET", ACCOUNTS + "/4", ok({"id": 4, "accountName": "Wrapped"}))
    client = make_client()
    assert client.get_account(3).name == "Bare"
    assert client.get_account(4).name == "Wrapped"


def test_html_answer_is_not_a_bms_server(stub, make_client):
    stub.on("POST", AUTH, Reply(200, b"<!doctype html><html></html>", {"Content-Type": "text/html"}))
    with pytest.raises(BmsNotABmsServer):
        make_client().authenticate()


def test_redirect_is_not_followed(stub, make_client):
    stub.on("POST", AUTH, Reply(302, b"", {"Location": "https://login.example.com/"}))
    with pytest.raises(BmsNotABmsServer, match="login.example.com"):
        make_client().authenticate()
    assert len(stub.seen) == 1


def test_client_errors(stub, make_client):
    client = make_client()
    stub.on("GET", QUEUES, failed("You don't have access rights to Service Desk", status=403))
    with pytest.raises(BmsPermissionDenied, match="access rights"):
        client.list_queues()
    stub.on("GET", QUEUES, failed("You do not have permission to view queues"))
    with pytest.raises(BmsPermissionDenied):
        client.list_queues()
    stub.on("GET", "/v2/servicedesk/tickets/5", failed("Ticket not found", status=404))
    with pytest.raises(BmsNotFound):
        client.get_ticket(5)
    stub.on(
        "POST",
        TICKETS,
        json_reply(
            {
                "title": "One or more validation errors occurred.",
                "status": 400,
                "errors": {"Title": ["The Title field is required."]},
            },
            400,
        ),
    )
    with pytest.raises(BmsRequestRejected) as err:
        client.create_ticket(draft())
    assert err.value.field == "Title" and "required" in err.value.message
    stub.on(
        "POST",
        TICKETS,
        json_reply(
            {
                "success": False,
                "error": {
                    "code": 400,
                    "message": "Validation failed",
                    "subErrors": ["LocationId: must belong to the account"],
                },
            }
        ),
    )
    with pytest.raises(BmsRequestRejected) as err:
        client.create_ticket(draft())
    assert err.value.field == "LocationId"
    assert not err.value.transient


def test_validation_field_from_aspnet_phrasing(stub, make_client):
    stub.on("POST", TICKETS, failed("Invalid LocationId: location of this account 5 does not exist", 400, 400))
    with pytest.raises(BmsRequestRejected) as err:
        make_client().create_ticket(draft())
    assert err.value.field == "LocationId"


# --- connection errors and retries ----------------------------------------------------------------


def test_https_to_plain_http_port_is_tls_error(stub, make_client):
    with pytest.raises(BmsTlsError):
        make_client(url=f"https://127.0.0.1:{stub.port}").authenticate()


def test_connection_refused_is_unavailable(make_client, sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BmsUnavailable):
        make_client(url=f"http://127.0.0.1:{port}", max_attempts=2).authenticate()
    assert len(sleeps.calls) == 1


def test_read_timeout_is_retried_for_reads(stub, make_client):
    stub.on("GET", QUEUES, Reply(delay=1.0), ok([queue(1)]))
    assert len(make_client(timeout=(1, 0.3)).list_queues()) == 1
    assert len(stub.calls(QUEUES)) == 2


def test_timeout_after_retries(stub, make_client):
    stub.on("GET", QUEUES, Reply(delay=0.6))
    with pytest.raises(BmsTimeout) as err:
        make_client(timeout=(1, 0.2), max_attempts=2).list_queues()
    assert err.value.transient


def test_dropped_connection_is_retried_for_reads(stub, make_client):
    stub.on("GET", QUEUES, Reply(drop=True), Reply(drop=True), ok([queue(1)]))
    assert len(make_client().list_queues()) == 1
    assert len(stub.calls(QUEUES)) == 3


def test_5xx_retried_with_capped_jitter(stub, make_client, sleeps):
    stub.on("GET", QUEUES, Reply(503), Reply(500), Reply(502), ok([queue(1)]))
    client = make_client(backoff_base=1, backoff_cap=3)
    assert len(client.list_queues()) == 1
    assert len(sleeps.calls) == 3
    assert all(0 <= s <= cap for s, cap in zip(sleeps.calls, [1, 2, 3], strict=True))


def test_5xx_gives_up_after_max_attempts(stub, make_client):
    stub.on("GET", QUEUES, Reply(500, b"oops"))
    with pytest.raises(BmsUnavailable) as err:
        make_client(max_attempts=3).list_queues()
    assert err.value.status_code == 500 and err.value.transient
    assert len(stub.calls(QUEUES)) == 3


def test_429_honours_retry_after(stub, make_client, sleeps):
    stub.on("GET", QUEUES, Reply(429, b"", {"Retry-After": "7"}), ok([queue(1)]))
    make_client(backoff_base=0.1, backoff_cap=30).list_queues()
    assert sleeps.calls[0] >= 7


def test_429_with_long_retry_after_is_raised(stub, make_client, sleeps):
    stub.on("GET", QUEUES, Reply(429, b"", {"Retry-After": "1800"}))
    with pytest.raises(BmsRateLimited) as err:
        make_client().list_queues()
    assert err.value.retry_after == 1800 and err.value.transient
    assert len(stub.calls(QUEUES)) == 1 and not sleeps.calls


def test_success_false_on_read_is_retried_a_bounded_number_of_times(stub, make_client):
    stub.on("GET", QUEUES, failed("Transient failure"), ok([queue(1)]))
    assert len(make_client().list_queues()) == 1
    stub.on("GET", QUEUES, failed("Still failing"))
    with pytest.raises(BmsRequestRejected, match="Still failing"):
        make_client(max_attempts=10).list_queues()
    assert len(stub.calls(QUEUES)) == 2 + 3


def test_success_false_server_crash_is_retried_like_a_5xx(stub, make_client):
    crash = failed("An error occurred while processing your request", code=500)
    stub.on("GET", QUEUES, crash, crash, crash, crash, ok([queue(1)]))
    assert len(make_client().list_queues()) == 1
    stub.on("GET", QUEUES, crash)
    with pytest.raises(BmsUnavailable) as err:
        make_client(max_attempts=4).list_queues()
    assert err.value.status_code == 200 and err.value.transient


# --- creating POSTs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500),
        Reply(503),
        Reply(drop=True),
        Reply(delay=0.6),
        Reply(429, b"", {"Retry-After": "1"}),
        failed("Try later"),
    ],
)
def test_create_ticket_is_never_retried(stub, make_client, reply):
    stub.on("POST", TICKETS, reply, ok({"id": 1, "ticketNumber": "T1"}))
    with pytest.raises(BmsError):
        make_client(timeout=(1, 0.3)).create_ticket(draft())
    assert len(stub.calls(TICKETS)) == 1


def test_create_ticket_replays_after_401(stub, make_client):
    stub.on("POST", TICKETS, failed("Security Error", 978001, 401), ok({"id": 5, "ticketNumber": "T5"}))
    assert make_client().create_ticket(draft()).id == 5


# --- body caps ------------------------------------------------------------------------------------


def test_download_is_capped(stub, make_client):
    path = "/v2/system/attachments/9/1/2/download"
    stub.on("GET", path, Reply(200, b"%PDF" + b"x" * 5000, {"Content-Type": "application/pdf"}))
    client = make_client()
    assert client.download_attachment(9, 1, 2).startswith(b"%PDF")
    with pytest.raises(BmsResponseTooLarge):
        client.download_attachment(9, 1, 2, max_bytes=1000)
    assert "GET /v2/system/attachments/{moduleId}/{objectId}/{attachmentId}/download" in client.request_counts
