"""XeroClient against the stub: each endpoint's request (path, query, headers, body) and parsing."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from integrations.base import IntegrationRateLimited
from providers.xero.exceptions import XeroBadResponse, XeroNotFound, XeroRateLimited, XeroResponseTooLarge
from providers.xero.types import PaymentDraft, RateLimits

from .payloads import (
    ACCOUNT_ID,
    CONTACT_ID,
    INVOICE_ID,
    ORG_ID,
    PAYMENT_ID,
    TENANT_ID,
    account,
    contact,
    invoice,
    organisation,
    pagination,
    payment,
    uid,
)
from .stub import Reply, xero_reply

PDF = b"%PDF-1.4\n" + b"x" * 2000 + b"\n%%EOF\n"


def header(seen, name: str) -> str | None:
    return next((v for k, v in seen.headers.items() if k.lower() == name.lower()), None)


def test_get_organisation_sends_tenant_and_bearer(stub, make_client):
    stub.api("GET", "/Organisation", xero_reply({"Organisations": [organisation()]}))
    org = make_client().get_organisation()
    seen = stub.api_calls("/Organisation")[0]
    assert header(seen, "xero-tenant-id") == TENANT_ID
    assert header(seen, "Authorization") == "Bearer acc-1"
    assert header(seen, "Accept") == "application/json"
    assert header(seen, "If-Modified-Since") is None and seen.query == {}
    assert (org.organisation_id, org.name, org.base_currency, org.short_code) == (
        ORG_ID,
        "Demo MSP (NZ)",
        "NZD",
        "!23eYt",
    )
    assert org.is_demo_company and org.status == "ACTIVE"


def test_list_accounts_with_where(stub, make_client):
    stub.api("GET", "/Accounts", xero_reply({"Accounts": [account(), account(1, Type="REVENUE", Code="200")]}))
    accounts = make_client().list_accounts(where='Type=="BANK"')
    assert stub.api_calls("/Accounts")[0].query == {"where": ['Type=="BANK"']}
    assert [(a.account_id, a.code, a.type) for a in accounts] == [
        (ACCOUNT_ID, "090", "BANK"),
        (uid(901), "200", "REVENUE"),
    ]
    assert accounts[0].accepts_payments and not accounts[1].accepts_payments
    assert accounts[0].updated_at == datetime(2019, 3, 1, 0, 15, 21, 43000, tzinfo=UTC)


def test_list_contacts_request_and_parsing(stub, make_client):
    stub.api("GET", "/Contacts", xero_reply({"Contacts": [contact()], "pagination": pagination(2, 3, 201)}))
    since = datetime(2024, 5, 1, 14, 30, 15, 987654, tzinfo=timezone(timedelta(hours=2)))
    page = make_client().list_contacts(
        2, where='ContactStatus=="ACTIVE"', ids=[CONTACT_ID, uid(2)], search_term="warren", modified_since=since
    )
    seen = stub.api_calls("/Contacts")[0]
    assert seen.query == {
        "page": ["2"],
        "where": ['ContactStatus=="ACTIVE"'],
        "IDs": [f"{CONTACT_ID},{uid(2)}"],
        "searchTerm": ["warren"],
    }
    # Xero's documented form: UTC, no offset, whole seconds (truncated, never rounded up).
    assert header(seen, "If-Modified-Since") == "2024-05-01T12:30:15"
    assert (page.page, page.page_size, page.page_count, page.item_count, page.is_last) == (2, 100, 3, 201, False)
    c = page.items[0]
    assert (c.contact_id, c.name, c.account_number, c.email, c.status) == (
        CONTACT_ID,
        "Katherine Warren",
        "ACME-001",
        "kat.warren@clampett.com",
        "ACTIVE",
    )
    assert [(p.first_name, p.email, p.include_in_emails) for p in c.contact_persons] == [
        ("Ann", "ann@clampett.com", True),
        ("Bob", "bob@clampett.com", False),
    ]
    assert c.invoice_emails == ("kat.warren@clampett.com", "ann@clampett.com")
    assert c.updated_at == datetime(2017, 8, 21, 20, 49, 4, 227000, tzinfo=UTC)


def test_list_contacts_options(stub, make_client):
    stub.api("GET", "/Contacts", xero_reply({"Contacts": []}))
    page = make_client().list_contacts(page_size=500, include_archived=True)
    assert stub.api_calls("/Contacts")[0].query == {"page": ["1"], "pageSize": ["500"], "includeArchived": ["true"]}
    assert page.items == () and page.is_last
    with pytest.raises(ValueError):
        make_client().list_contacts(0)
    with pytest.raises(ValueError):
        make_client().list_contacts(page_size=1001)
    with pytest.raises(TypeError):
        make_client().list_contacts(ids=CONTACT_ID)  # one string is not a list of ids
    assert len(stub.api_calls("/Contacts")) == 1


def test_iter_contacts_follows_page_count(stub, make_client):
    def contacts(seen):
        n = int(seen.query["page"][0])
        return xero_reply({"Contacts": [contact(n * 10 + i) for i in range(2)], "pagination": pagination(n, 3, 6, 2)})

    stub.api("GET", "/Contacts", contacts)
    found = list(make_client().iter_contacts(where='ContactStatus=="ACTIVE"', page_size=2))
    assert [c.contact_id for c in found] == [uid(n * 10 + i) for n in (1, 2, 3) for i in range(2)]
    assert [s.query["page"] for s in stub.api_calls("/Contacts")] == [["1"], ["2"], ["3"]]
    assert all(s.query["where"] == ['ContactStatus=="ACTIVE"'] for s in stub.api_calls("/Contacts"))


def test_iter_contacts_without_pagination_stops_on_a_short_page(stub, make_client):
    stub.api(
        "GET",
        "/Contacts",
        xero_reply({"Contacts": [contact(i) for i in range(1, 101)]}),
        xero_reply({"Contacts": [contact(i) for i in range(101, 131)]}),
    )
    assert len(list(make_client().iter_contacts())) == 130
    assert len(stub.api_calls("/Contacts")) == 2


def test_iter_contacts_stops_when_the_server_ignores_the_page(stub, make_client):
    stub.api("GET", "/Contacts", xero_reply({"Contacts": [contact(i) for i in range(1, 101)]}))
    with pytest.raises(XeroBadResponse, match="page 1 again as page 2"):
        list(make_client().iter_contacts())
    assert len(stub.api_calls("/Contacts")) == 2


def test_get_contact(stub, make_client):
    stub.api("GET", f"/Contacts/{CONTACT_ID}", xero_reply({"Contacts": [contact(EmailAddress="")]}))
    c = make_client().get_contact(CONTACT_ID)
    assert c.contact_id == CONTACT_ID and c.email is None
    assert c.invoice_emails == ("ann@clampett.com",)


def test_list_invoices_request_and_parsing(stub, make_client):
    stub.api("GET", "/Invoices", xero_reply({"Invoices": [invoice()], "pagination": pagination(1, 1, 1)}))
    page = make_client().list_invoices(
        1,
        invoice_numbers=["INV-0001", "INV-0002"],
        ids=[INVOICE_ID],
        statuses=["AUTHORISED", "PAID"],
        where='Type=="ACCREC"',
        modified_since=datetime(2024, 1, 2, 3, 4, 5),
        contact_ids=[CONTACT_ID],
    )
    seen = stub.api_calls("/Invoices")[0]
    assert seen.query == {
        "page": ["1"],
        "where": ['Type=="ACCREC"'],
        "IDs": [INVOICE_ID],
        "InvoiceNumbers": ["INV-0001,INV-0002"],
        "ContactIDs": [CONTACT_ID],
        "Statuses": ["AUTHORISED,PAID"],
    }
    assert header(seen, "If-Modified-Since") == "2024-01-02T03:04:05"  # naive means UTC
    inv = page.items[0]
    assert (inv.invoice_id, inv.invoice_number, inv.type, inv.status, inv.currency_code) == (
        INVOICE_ID,
        "INV-0001",
        "ACCREC",
        "AUTHORISED",
        "NZD",
    )
    assert (inv.total, inv.amount_due, inv.amount_paid) == (Decimal("1250.10"), Decimal("1150.10"), Decimal("100.0"))
    assert isinstance(inv.total, Decimal)
    assert (inv.date, inv.due_date) == (date(2024, 5, 1), date(2024, 5, 31))
    assert (inv.contact_id, inv.contact_name) == (CONTACT_ID, "Katherine Warren")
    assert inv.updated_at == datetime(2024, 5, 29, 16, 26, 40, 123000, tzinfo=UTC)
    assert page.is_last


def test_iter_invoices(stub, make_client):
    def invoices(seen):
        n = int(seen.query["page"][0])
        count = 100 if n == 1 else 1
        return xero_reply(
            {"Invoices": [invoice(n * 1000 + i) for i in range(count)], "pagination": pagination(n, 2, 101)}
        )

    stub.api("GET", "/Invoices", invoices)
    found = list(make_client().iter_invoices(statuses=["AUTHORISED"]))
    assert len(found) == 101
    assert [s.query["Statuses"] for s in stub.api_calls("/Invoices")] == [["AUTHORISED"], ["AUTHORISED"]]


def test_get_invoice_and_summary_only(stub, make_client):
    stub.api("GET", f"/Invoices/{INVOICE_ID}", xero_reply({"Invoices": [invoice()]}))
    stub.api("GET", "/Invoices", xero_reply({"Invoices": []}))
    client = make_client()
    assert client.get_invoice(INVOICE_ID).invoice_number == "INV-0001"
    client.list_invoices(summary_only=True)
    assert stub.api_calls("/Invoices")[0].query == {"page": ["1"], "summaryOnly": ["true"]}


def test_get_invoice_with_an_empty_answer_is_not_found(stub, make_client):
    stub.api("GET", f"/Invoices/{INVOICE_ID}", xero_reply({"Invoices": []}))
    with pytest.raises(XeroNotFound):
        make_client().get_invoice(INVOICE_ID)


def test_invoice_pdf(stub, make_client):
    stub.api("GET", f"/Invoices/{INVOICE_ID}", Reply(200, PDF, {"Content-Type": "application/pdf"}))
    client = make_client()
    assert client.invoice_pdf(INVOICE_ID) == PDF
    assert header(stub.api_calls(f"/Invoices/{INVOICE_ID}")[0], "Accept") == "application/pdf"
    with pytest.raises(XeroResponseTooLarge):
        client.invoice_pdf(INVOICE_ID, max_bytes=1000)


def test_invoice_pdf_that_is_not_a_pdf(stub, make_client):
    stub.replies_are_realistic = False
    stub.api("GET", f"/Invoices/{INVOICE_ID}", Reply(200, b"<html>login</html>", {"Content-Type": "text/html"}))
    with pytest.raises(XeroBadResponse, match="text/html"):
        make_client().invoice_pdf(INVOICE_ID)


def test_list_payments(stub, make_client):
    stub.api("GET", "/Payments", xero_reply({"Payments": [payment(), payment(1, Status="DELETED")]}))
    where = f'Invoice.InvoiceID==guid("{INVOICE_ID}")'
    payments = make_client().list_payments(where=where, page=1)
    assert stub.api_calls("/Payments")[0].query == {"where": [where], "page": ["1"]}
    p = payments[0]
    assert (p.payment_id, p.invoice_id, p.invoice_number, p.account_id, p.account_code) == (
        PAYMENT_ID,
        INVOICE_ID,
        "INV-0001",
        ACCOUNT_ID,
        "090",
    )
    assert (p.amount, p.date, p.status, p.payment_type, p.reference) == (
        Decimal("100.0"),
        date(2019, 3, 12),
        "AUTHORISED",
        "ACCRECPAYMENT",
        "Card 4242",
    )
    assert payments[1].status == "DELETED"


def test_create_payment_body_and_result(stub, make_client):
    stub.api("PUT", "/Payments", xero_reply({"Payments": [payment()]}))
    draft = PaymentDraft(
        invoice_id=INVOICE_ID, amount=Decimal("100.00"), date=date(2024, 6, 1), account_id=ACCOUNT_ID, reference="pi_1"
    )
    created = make_client().create_payment(draft, idempotency_key="portal-payment-42")
    seen = stub.api_calls("/Payments")[0]
    assert seen.method == "PUT"
    assert seen.query == {"summarizeErrors": ["true"]}
    assert header(seen, "Content-Type") == "application/json"
    assert header(seen, "Idempotency-Key") == "portal-payment-42"
    assert seen.json == {
        "Payments": [
            {
                "Invoice": {"InvoiceID": INVOICE_ID},
                "Account": {"AccountID": ACCOUNT_ID},
                "Date": "2024-06-01",
                "Amount": 100.0,
                "Reference": "pi_1",
            }
        ]
    }
    assert b'"Amount":100.0' in seen.body
    assert created.payment_id == PAYMENT_ID and created.amount == Decimal("100.0")


def test_create_payment_by_account_code_keeps_cents_exact(stub, make_client):
    stub.api("PUT", "/Payments", xero_reply({"Payments": [payment(Amount=1234567.89)]}))
    draft = PaymentDraft(invoice_id=INVOICE_ID, amount=Decimal("1234567.89"), date=date(2024, 6, 1), account_code="090")
    make_client().create_payment(draft)
    seen = stub.api_calls("/Payments")[0]
    assert json.loads(seen.body, parse_float=Decimal)["Payments"][0] == {
        "Invoice": {"InvoiceID": INVOICE_ID},
        "Account": {"Code": "090"},
        "Date": "2024-06-01",
        "Amount": Decimal("1234567.89"),
    }
    assert header(seen, "Idempotency-Key") is None


def test_reverse_payment(stub, make_client):
    stub.api("POST", f"/Payments/{PAYMENT_ID}", xero_reply({"Payments": [payment(Status="DELETED")]}))
    reversed_ = make_client().reverse_payment(PAYMENT_ID, idempotency_key="rev-1")
    seen = stub.api_calls(f"/Payments/{PAYMENT_ID}")[0]
    assert seen.method == "POST" and seen.json == {"Status": "DELETED"}
    assert header(seen, "Idempotency-Key") == "rev-1"
    assert reversed_.status == "DELETED"


def test_rate_limit_headers_are_kept(stub, make_client):
    stub.api(
        "GET",
        "/Organisation",
        xero_reply(
            {"Organisations": [organisation()]},
            headers={"X-MinLimit-Remaining": "12", "X-DayLimit-Remaining": "345", "X-AppMinLimit-Remaining": "6789"},
        ),
    )
    client = make_client()
    assert client.last_limits is None
    client.get_organisation()
    assert client.last_limits == RateLimits(minute_remaining=12, day_remaining=345, app_minute_remaining=6789)


class RecordingPacer:
    def __init__(self, refuse: bool = False) -> None:
        self.keys: list[str] = []
        self.refuse = refuse

    def acquire(self, endpoint_key: str) -> None:
        self.keys.append(endpoint_key)
        if self.refuse:
            raise IntegrationRateLimited("shared budget spent")


def test_pacer_is_asked_before_every_request(stub, make_client):
    stub.api("GET", f"/Invoices/{INVOICE_ID}", Reply(503), xero_reply({"Invoices": [invoice()]}))
    stub.api("PUT", "/Payments", xero_reply({"Payments": [payment()]}))
    pacer = RecordingPacer()
    client = make_client(pacer=pacer)
    client.get_invoice(INVOICE_ID)
    client.create_payment(PaymentDraft(INVOICE_ID, Decimal("1.00"), date(2024, 1, 1), account_code="090"))
    assert pacer.keys == ["GET /Invoices/{InvoiceID}", "GET /Invoices/{InvoiceID}", "PUT /Payments"]
    assert client.request_counts == {"GET /Invoices/{InvoiceID}": 2, "PUT /Payments": 1}


def test_a_refusing_pacer_sends_nothing_and_is_not_retried(stub, make_client, sleeps):
    with pytest.raises(IntegrationRateLimited) as err:
        make_client(pacer=RecordingPacer(refuse=True)).get_organisation()
    assert not isinstance(err.value, XeroRateLimited)  # passed on as the pacer raised it
    assert stub.seen == [] and sleeps.calls == []


def test_base_url_and_tenant_checks():
    from providers.xero.client import XeroClient

    with pytest.raises(ValueError):
        XeroClient("api.xero.com/api.xro/2.0", lambda **_: "t", TENANT_ID)
    with pytest.raises(ValueError):
        XeroClient("https://user:pw@api.xero.com/api.xro/2.0", lambda **_: "t", TENANT_ID)
    with pytest.raises(ValueError):
        XeroClient("https://api.xero.com/api.xro/2.0", lambda **_: "t", "")
    client = XeroClient("https://api.xero.com/api.xro/2.0/", lambda **_: "secret-token", TENANT_ID)
    assert client.api_base_url == "https://api.xero.com/api.xro/2.0"
    assert "secret-token" not in repr(client)
