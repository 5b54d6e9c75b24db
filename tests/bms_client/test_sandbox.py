"""The client over real HTTP against the BMS sandbox (bms_sandbox.pytest_plugin fixtures)."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsNotFound,
    BmsPermissionDenied,
    BmsRateLimited,
    BmsRequestRejected,
    BmsTimeout,
    BmsUnavailable,
)
from providers.kaseya_bms.pacing import LocalHourlyPacer
from providers.kaseya_bms.types import BmsModule, TicketDraft, parse_datetime

from .test_pacing import FakeTime

INVOICE_MODULE = 9  # sandbox convention (bms_sandbox.constants.INVOICE_MODULE_ID)
FAULTS = {
    "error_rate": 0.08,
    "rate_limit_rate": 0.08,
    "success_false_rate": 0.08,
    "drop_rate": 0.04,
    "retry_after": 1,
    "fault_seed": 11,
}


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connect(bms_sandbox, sleeps):
    def make(
        username: str | None = None, password: str | None = None, tenant: str | None = None, **options: Any
    ) -> BmsClient:
        options.setdefault("sleep", sleeps.append)
        options.setdefault("max_attempts", 8)
        options.setdefault("timeout", (2, 10))
        return BmsClient(
            bms_sandbox.url,
            tenant or bms_sandbox.tenant,
            username or bms_sandbox.username,
            password or bms_sandbox.password,
            **options,
        )

    return make


@pytest.fixture
def client(connect) -> BmsClient:
    return connect()


def ids(pages) -> list[int]:
    return [item.id for page in pages for item in page.items]


def record_ids(bms_sandbox, entity: str, keep=lambda r: True) -> list[int]:
    return [r["id"] for r in bms_sandbox.control.records(entity) if keep(r)]


def sandbox_counts(bms_sandbox) -> dict[str, int]:
    return bms_sandbox.control.request_counts()["by_endpoint"]


def make_draft(client: BmsClient, details: str) -> TicketDraft:
    account = client.list_accounts(page_size=1).items[0]
    return TicketDraft(
        title="Invoice question",
        details=details,
        account_id=account.id,
        location_id=client.list_account_locations(account.id)[0].id,
        status_id=client.list_statuses()[0].id,
        priority_id=client.list_priorities()[0].id,
        type_id=client.list_lookup("TicketType")[0].id,
        source_id=client.list_lookup("TicketSource")[0].id,
        open_date=datetime.now(UTC),
        queue_id=client.list_queues()[0].id,
    )


# --- auth ----------------------------------------------------------------------------------------


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


# --- lists, paging, filters ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "iterate"),
    [
        ("accounts", BmsClient.iter_account_pages),
        ("contacts", BmsClient.iter_contact_pages),
        ("contracts", BmsClient.iter_contract_pages),
        ("invoices", BmsClient.iter_invoice_pages),
        ("tickets", BmsClient.iter_ticket_pages),
    ],
)
@pytest.mark.parametrize("page_size", [100, 7])
def test_every_list_is_complete(bms_sandbox, client, entity, iterate, page_size):
    expected = record_ids(bms_sandbox, entity)
    pages = list(iterate(client, page_size=page_size))
    assert ids(pages) == expected
    assert all(len(p.items) <= page_size for p in pages)
    assert len(pages) in (math.ceil(len(expected) / page_size), math.ceil(len(expected) / page_size) + 1)


def test_records_are_mapped(bms_sandbox, client):
    raw = {r["id"]: r for r in bms_sandbox.control.records("invoices")}
    for inv in client.list_invoices(page_size=20).items:
        r = raw[inv.id]
        assert (inv.invoice_number, inv.account_id, inv.status_name) == (
            r["invoiceNumber"],
            r["accountId"],
            r["statusName"],
        )
        assert inv.grand_total == Decimal(str(r["grandTotal"]))
        assert inv.created_on == parse_datetime(r["createdOn"]) and inv.created_on.tzinfo is UTC
    contacts = {r["id"]: r for r in bms_sandbox.control.records("contacts")}
    for contact in client.list_contacts().items:
        r = contacts[contact.id]
        default = next((e["emailAddress"] for e in r.get("emails") or [] if e["isDefault"]), None)
        assert contact.email == default
        assert contact.is_poc == r["isPoc"]
        assert contact.receives_invoices == r["canRecieveInvoices"]
    accounts = {r["id"]: r for r in bms_sandbox.control.records("accounts")}
    for account in client.list_accounts().items:
        assert account.name == accounts[account.id]["accountName"]
        billing = [a for loc in accounts[account.id]["locations"] for a in loc["addresses"] if a["isBilling"]]
        if billing:
            assert account.billing_address is not None
            assert account.billing_address.address1 == billing[0]["address1"]


def test_filters(bms_sandbox, client):
    control = bms_sandbox.control
    accounts = control.records("accounts")
    cutoff = sorted(parse_datetime(a["modifiedOn"]) for a in accounts)[len(accounts) // 2]
    got = ids(client.iter_account_pages(modified_from=cutoff))
    assert got == [a["id"] for a in accounts if parse_datetime(a["modifiedOn"]) >= cutoff] and got
    assert ids(client.iter_account_pages(is_active=False)) == [a["id"] for a in accounts if not a["isActive"]]

    account_id = accounts[2]["id"]
    assert ids(client.iter_contact_pages(account_id=account_id)) == record_ids(
        bms_sandbox, "contacts", lambda r: r["accountId"] == account_id
    )

    invoices = control.records("invoices")
    since = parse_datetime(invoices[len(invoices) // 3]["createdOn"])
    assert ids(client.iter_invoice_pages(account_id=account_id, created_from=since)) == [
        i["id"] for i in invoices if i["accountId"] == account_id and parse_datetime(i["createdOn"]) >= since
    ]
    one = invoices[5]
    assert ids([client.list_invoices(invoice_number=one["invoiceNumber"])]) == [one["id"]]

    tickets = control.records("tickets")
    since = parse_datetime(tickets[len(tickets) // 2]["lastActivityUpdate"])
    assert ids(client.iter_ticket_pages(last_activity_from=since, account_ids=[account_id, 1])) == [
        t["id"]
        for t in tickets
        if t["accountId"] in (account_id, 1) and parse_datetime(t["lastActivityUpdate"]) >= since
    ]


def test_invoice_lines_bulk_and_single(bms_sandbox, client):
    lines = bms_sandbox.control.records("invoice_lines")
    wanted = sorted({li["invoiceId"] for li in lines})[:40]
    got = [li for page in client.iter_invoice_line_item_pages(wanted, page_size=7) for li in page.items]
    assert [li.id for li in got] == [li["id"] for li in lines if li["invoiceId"] in wanted]
    invoice = client.get_invoice(wanted[0])
    assert [li.id for li in invoice.line_items] == [li["id"] for li in lines if li["invoiceId"] == wanted[0]]


def test_single_records_and_not_found(bms_sandbox, client):
    account = client.list_accounts(page_size=1).items[0]
    assert client.get_account(account.id) == account
    contact = client.list_contacts(page_size=1).items[0]
    assert client.get_contact(contact.id).email == contact.email
    ticket = client.search_tickets(page_size=1).items[0]
    assert client.get_ticket(ticket.id).ticket_number == ticket.ticket_number
    bms_sandbox.control.mutate("delete", entity="accounts", id=account.id)
    with pytest.raises(BmsNotFound):
        client.get_account(account.id)
    with pytest.raises(BmsNotFound):
        client.get_invoice(10**8)


def test_lookups_and_contracts(client):
    assert client.list_queues() and client.list_priorities() and client.list_statuses()
    issue_type = client.list_issue_types()[0]
    assert client.list_sub_issue_types(issue_type.id)
    assert client.list_lookup("TicketType")
    account = client.list_accounts(page_size=1).items[0]
    assert client.contract_lookup(account.id)
    assert client.list_account_locations(account.id)[0].account_id == account.id


def test_attachments(client):
    invoice = client.list_invoices(page_size=1).items[0]
    attachments = client.list_attachments(INVOICE_MODULE, invoice.id)
    assert attachments and attachments[0].file_name.endswith(".pdf")
    assert client.download_attachment(INVOICE_MODULE, invoice.id, attachments[0].id).startswith(b"%PDF")
    assert client.list_attachments(INVOICE_MODULE, 7) == []  # every 7th invoice has no PDF


# --- faults --------------------------------------------------------------------------------------


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
        assert len(sleeps) >= 5  # faults did happen and were retried
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


# --- tickets -------------------------------------------------------------------------------------


def test_create_ticket_and_find_it_by_key(bms_sandbox, client):
    key = f"[cb:{uuid.uuid4()}]"
    created = client.create_ticket(make_draft(client, f"Please call me back. {key}"))
    assert created.id and created.ticket_number
    assert client.get_ticket(created.id).details.endswith(key)
    found = client.search_tickets(details=key, created_from=datetime.now(UTC) - timedelta(hours=1))
    assert [t.id for t in found.items] == [created.id]


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


def test_create_ticket_validation(client):
    draft = make_draft(client, "x")
    bad = dataclasses.replace(draft, location_id=10**6)
    with pytest.raises(BmsRequestRejected) as err:
        client.create_ticket(bad)
    assert err.value.field == "LocationId" and not err.value.transient


# --- pacing and counts ---------------------------------------------------------------------------


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
