"""The transport over real HTTP against the BMS sandbox: sign-in and tokens, faults and retries,
pacing and request counts, siblings (bms_sandbox.pytest_plugin fixtures)."""

from __future__ import annotations

import uuid

import pytest

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsPermissionDenied,
    BmsRateLimited,
    BmsRequestRejected,
    BmsTimeout,
    BmsUnavailable,
)
from providers.kaseya_bms.pacing import LocalHourlyPacer
from providers.kaseya_bms.types import BmsModule

from .sandbox_helpers import FAULTS, ids, make_draft, record_ids, sandbox_counts
from .test_pacing import FakeTime

# --- auth -----------------------------------------------------------------------------------------


def test_login_and_user_info(client):
    info = client.user_info()
    assert info.user_id
    for module in BmsModule:
        right = info.rights_for(module)
        assert right is not None and right.can_view and right.can_modify


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"tenant": "No Such MSP"}, AuthFailureReason.WRONG_TENANT),
        ({"password": "wrong"}, AuthFailureReason.WRONG_CREDENTIALS),
        ({"username": "nobody@demo.local"}, AuthFailureReason.WRONG_CREDENTIALS),
    ],
)
def test_login_failures(connect, change, reason):
    with pytest.raises(BmsAuthenticationError) as err:
        connect(**change).authenticate()
    assert err.value.reason == reason
    assert "wrong" not in str(err.value)  # the password is never echoed


def test_user_without_api_access(bms_sandbox, connect):
    bms_sandbox.control.add_user("noapi@demo.local", "pw", has_api_access=False)
    with pytest.raises(BmsAuthenticationError) as err:
        connect("noapi@demo.local", "pw").list_queues()
    assert err.value.reason == AuthFailureReason.NO_API_ACCESS


def test_api_access_revoked_mid_session(bms_sandbox, connect):
    bms_sandbox.control.add_user("later@demo.local", "pw")
    client = connect("later@demo.local", "pw")
    client.list_queues()
    bms_sandbox.control.add_user("later@demo.local", "pw", has_api_access=False)
    with pytest.raises(BmsAuthenticationError) as err:
        client.list_queues()
    assert err.value.reason == AuthFailureReason.NO_API_ACCESS


def test_missing_right_is_permission_denied(bms_sandbox, connect):
    bms_sandbox.control.add_user("nofin@demo.local", "pw", rights={"Finance": {"view": False, "modify": False}})
    client = connect("nofin@demo.local", "pw")
    finance = client.user_info().rights_for(BmsModule.FINANCE)
    assert finance is None or not finance.can_view
    with pytest.raises(BmsPermissionDenied, match="Finance"):
        client.list_invoices()
    assert client.list_accounts().items  # other modules still work


def test_token_expiring_mid_iteration(bms_sandbox, client):
    bms_sandbox.control.set_faults(token_max_requests=50)
    pages = list(client.iter_invoice_pages(page_size=4))
    assert ids(pages) == record_ids(bms_sandbox, "invoices")
    assert client.request_counts["POST /v2/security/refreshtoken"] >= 1
    assert client.request_counts["POST /v2/security/authenticate"] == 1


def test_token_expiring_by_time(bms_sandbox, client):
    client.list_queues()
    bms_sandbox.control.set_clock_offset(2 * 3600)  # past the sandbox's 1 h token lifetime
    assert client.list_queues()
    assert client.request_counts["POST /v2/security/refreshtoken"] == 1


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "iterate"),
    [
        ("invoices", BmsClient.iter_invoice_pages),
        ("accounts", BmsClient.iter_account_pages),
        ("tickets", BmsClient.iter_ticket_pages),
        ("contacts", BmsClient.iter_contact_pages),
    ],
)
def test_faults_do_not_change_the_data(bms_sandbox, connect, sleeps, entity, iterate):
    expected = record_ids(bms_sandbox, entity)
    bms_sandbox.control.set_faults(**FAULTS, token_max_requests=20)
    client = connect(max_attempts=10)
    assert ids(iterate(client, page_size=10)) == expected
    if entity == "invoices":
        assert len(sleeps.calls) >= 5  # faults did happen and were retried
    assert client.request_counts == {k: v for k, v in sandbox_counts(bms_sandbox).items()}


def test_faults_on_bulk_lines(bms_sandbox, connect):
    lines = bms_sandbox.control.records("invoice_lines")
    wanted = sorted({li["invoiceId"] for li in lines})[:60]
    bms_sandbox.control.set_faults(**FAULTS)
    got = [li.id for p in connect(max_attempts=10).iter_invoice_line_item_pages(wanted, page_size=10) for li in p.items]
    assert got == [li["id"] for li in lines if li["invoiceId"] in wanted]


@pytest.mark.parametrize(
    "fault",
    [{"error_rate": 1.0}, {"success_false_rate": 1.0}, {"drop_rate": 1.0}, {"rate_limit_rate": 1.0, "retry_after": 1}],
)
def test_persistent_fault_gives_up(bms_sandbox, connect, fault):
    client = connect(max_attempts=3)
    client.authenticate()
    bms_sandbox.control.set_faults(**fault)
    with pytest.raises((BmsUnavailable, BmsRateLimited, BmsRequestRejected)) as err:
        client.list_queues()
    assert err.value.transient or isinstance(err.value, BmsRequestRejected)
    assert sandbox_counts(bms_sandbox)["GET /v2/system/queues/lookup"] == 3


def test_slow_server_times_out(bms_sandbox, connect):
    client = connect(timeout=(2, 0.2), max_attempts=2)
    client.authenticate()
    bms_sandbox.control.set_faults(latency_ms=600)
    with pytest.raises(BmsTimeout):
        client.list_queues()


def test_hourly_limit_429_is_raised_not_slept_on(bms_sandbox, connect, sleeps):
    bms_sandbox.control.set_faults(hourly_limit=3)
    client = connect()
    for _ in range(3):
        client.list_queues()
    with pytest.raises(BmsRateLimited) as err:
        client.list_queues()
    assert err.value.retry_after > 0


# --- creating POSTs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        {"error_rate": 1.0},
        {"drop_rate": 1.0},
        {"drop_after_rate": 1.0},
        {"rate_limit_rate": 1.0},
        {"success_false_rate": 1.0},
    ],
)
def test_create_ticket_is_not_retried(bms_sandbox, client, fault):
    draft = make_draft(client, f"key {uuid.uuid4()}")
    before = len(bms_sandbox.control.records("tickets"))
    bms_sandbox.control.set_faults(**fault, paths=["/v2/servicedesk/tickets"])
    with pytest.raises((BmsUnavailable, BmsRateLimited, BmsRequestRejected)):
        client.create_ticket(draft)
    assert sandbox_counts(bms_sandbox)["POST /v2/servicedesk/tickets"] == 1
    bms_sandbox.control.clear_faults()
    # drop_after: BMS created it although we saw an error; the caller finds it by its key.
    found = client.search_tickets(details=draft.details).items
    assert len(found) == len(bms_sandbox.control.records("tickets")) - before


# --- pacing and counts ----------------------------------------------------------------------------


def test_pacer_stops_before_the_server_limit(bms_sandbox, connect):
    bms_sandbox.control.set_faults(hourly_limit=4)
    fake = FakeTime()
    client = connect(pacer=LocalHourlyPacer(4, clock=fake.clock, sleep=fake.sleep, max_wait=0))
    for _ in range(4):
        client.list_queues()
    with pytest.raises(BmsRateLimited) as err:
        client.list_queues()
    assert err.value.retry_after > 3000
    assert sandbox_counts(bms_sandbox)["GET /v2/system/queues/lookup"] == 4


def test_pacer_spreads_an_iteration_over_hours(bms_sandbox, connect):
    fake = FakeTime()
    stamps: list[float] = []

    class Recording(LocalHourlyPacer):
        def acquire(self, endpoint_key: str) -> None:
            super().acquire(endpoint_key)
            if endpoint_key == "GET /v2/crm/accounts/summary":
                stamps.append(fake.now)

    client = connect(pacer=Recording(3, clock=fake.clock, sleep=fake.sleep, max_wait=4000))
    assert ids(client.iter_account_pages(page_size=3)) == record_ids(bms_sandbox, "accounts")
    assert len(stamps) == 9
    assert all(sum(1 for t in stamps if s <= t < s + 3600) <= 3 for s in stamps)
    assert sum(fake.slept) >= 2 * 3600 - 1


def test_request_counts_match_the_server(bms_sandbox, client):
    client.user_info()
    list(client.iter_contract_pages(page_size=20))
    client.get_invoice(1)
    client.list_issue_types()
    assert client.request_counts == sandbox_counts(bms_sandbox)
    assert client.request_counts["GET /v2/finance/contracts/summary"] == 3
    assert client.request_counts["GET /v2/finance/invoices/{id}"] == 1


def test_a_sibling_starts_with_the_token_and_counts_its_own_requests(client, bms_sandbox):
    client.list_accounts(page_size=1)
    bms_sandbox.control.clear_requests()
    twin = client.sibling()
    assert twin.list_accounts(page_size=1).items
    counts = sandbox_counts(bms_sandbox)
    assert "POST /v2/security/authenticate" not in counts  # no second sign-in
    assert twin.request_counts == {"GET /v2/crm/accounts/summary": 1}
    assert client.request_counts.get("GET /v2/crm/accounts/summary") == 1  # the first call only
    assert (twin.server_url, twin.company, twin.username, twin.timeout) == (
        client.server_url,
        client.company,
        client.username,
        client.timeout,
    )
    assert twin._session is not client._session


def test_a_sibling_of_a_client_not_signed_in_signs_in_itself(connect, bms_sandbox):
    twin = connect().sibling()
    assert twin.list_accounts(page_size=1).items
    assert sandbox_counts(bms_sandbox)["POST /v2/security/authenticate"] == 1
