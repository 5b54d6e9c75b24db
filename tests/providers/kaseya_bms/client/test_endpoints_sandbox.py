"""The endpoints over real HTTP against the BMS sandbox: complete listings, record mapping,
filters, single records, lookups, attachments and tickets (bms_sandbox.pytest_plugin fixtures)."""

from __future__ import annotations

import dataclasses
import math
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.exceptions import BmsNotFound, BmsRequestRejected
from providers.kaseya_bms.types import parse_datetime

from .sandbox_helpers import INVOICE_MODULE, ids, make_draft, record_ids

# --- lists, paging, filters -----------------------------------------------------------------------


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


# --- tickets --------------------------------------------------------------------------------------


def test_create_ticket_and_find_it_by_key(bms_sandbox, client):
    key = f"[cb:{uuid.uuid4()}]"
    created = client.create_ticket(make_draft(client, f"Please call me back. {key}"))
    assert created.id and created.ticket_number
    assert client.get_ticket(created.id).details.endswith(key)
    found = client.search_tickets(details=key, created_from=datetime.now(UTC) - timedelta(hours=1))
    assert [t.id for t in found.items] == [created.id]


def test_create_ticket_validation(client):
    draft = make_draft(client, "x")
    bad = dataclasses.replace(draft, location_id=10**6)
    with pytest.raises(BmsRequestRejected) as err:
        client.create_ticket(bad)
    assert err.value.field == "LocationId" and not err.value.transient
