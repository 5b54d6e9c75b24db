"""The endpoints against a scripted local HTTP server: query and body names, record mapping and
paging (``providers.kaseya_bms.client``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from providers.kaseya_bms.exceptions import BmsNotABmsServer

from .stub import ACCOUNTS, INVOICES, QUEUES, TICKETS, draft, json_reply, ok

# --- queries and bodies ---------------------------------------------------------------------------


def test_filters_use_spec_names(stub, make_client):
    stub.on("GET", ACCOUNTS, ok([], total=0))
    make_client().list_accounts(2, 50, modified_from=datetime(2024, 1, 1, 10), is_active=True, name="Ac")
    assert stub.calls(ACCOUNTS)[0].query == {
        "PageSize": ["50"],
        "PageNumber": ["2"],
        "Filter.ModifiedOnFrom": ["2024-01-01T10:00:00Z"],
        "Filter.IsActive": ["true"],
        "Filter.AccountName": ["Ac"],
    }


def test_ticket_search_body(stub, make_client):
    stub.on("POST", TICKETS + "/search", ok([], total=0))
    make_client().search_tickets(
        1, 100, created_from=datetime(2024, 2, 1, tzinfo=UTC), account_ids=[3, 4], details="key-123"
    )
    assert stub.calls(TICKETS + "/search")[0].json == {
        "PageSize": 100,
        "PageNumber": 1,
        "Filter": {"CreatedOnFrom": "2024-02-01T00:00:00Z", "AccountIds": "3,4", "Details": "key-123"},
    }


def test_create_ticket_body_and_result(stub, make_client):
    stub.on("POST", TICKETS, ok({"id": 99, "ticketNumber": "T20240501.0001", "title": "t"}))
    ticket = make_client().create_ticket(draft())
    assert (ticket.id, ticket.ticket_number) == (99, "T20240501.0001")
    assert stub.calls(TICKETS)[0].json == {
        "Title": "t",
        "Details": "d",
        "AccountId": 1,
        "LocationId": 1,
        "StatusId": 1,
        "PriorityId": 1,
        "TypeId": 1,
        "SourceId": 0,
        "OpenDate": "2024-05-01T12:00:00Z",
    }


# --- records --------------------------------------------------------------------------------------


def test_contact_fields(stub, make_client):
    stub.on(
        "GET",
        "/v2/crm/contacts/summary/8",
        json_reply(
            {
                "id": 8,
                "accountId": 3,
                "firstName": "Ann",
                "lastName": "Lee",
                "isPoc": True,
                "recieveInvoices": True,
                "emails": [
                    {"emailAddress": "old@x.com", "isDefault": False},
                    {"emailAddress": "ann@x.com", "isDefault": True},
                ],
                "phones": [{"phone": "555", "isDefault": True}],
            }
        ),
    )
    contact = make_client().get_contact(8)
    assert (contact.email, contact.phone, contact.is_poc, contact.receives_invoices) == ("ann@x.com", "555", True, True)


def test_unexpected_json_shape(stub, make_client):
    stub.on("GET", QUEUES, json_reply({"success": True, "result": {"not": "a list"}}))
    with pytest.raises(BmsNotABmsServer):
        make_client().list_queues()


# --- paging ---------------------------------------------------------------------------------------


def test_iterator_stops_on_short_page_without_total(stub, make_client):
    def invoices(seen):
        page, size = int(seen.query["PageNumber"][0]), int(seen.query["PageSize"][0])
        ids = range((page - 1) * size + 1, min(page * size, 25) + 1)
        return ok([{"id": i, "invoiceNumber": f"INV{i}"} for i in ids])

    stub.on("GET", INVOICES, invoices)
    pages = list(make_client().iter_invoice_pages(page_size=10))
    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [i.id for p in pages for i in p.items] == list(range(1, 26))


def test_iterator_stops_at_total_records(stub, make_client):
    stub.on("GET", ACCOUNTS, ok([{"id": 1}, {"id": 2}], total=4), ok([{"id": 3}, {"id": 4}], total=4))
    pages = list(make_client().iter_account_pages(page_size=2))
    assert len(pages) == 2 and len(stub.calls(ACCOUNTS)) == 2


def test_iterator_survives_a_server_serving_smaller_pages(stub, make_client):
    def accounts(seen):  # serves 30 per page whatever PageSize says; 70 records
        page = int(seen.query["PageNumber"][0])
        ids = range((page - 1) * 30 + 1, min(page * 30, 70) + 1)
        return ok([{"id": i} for i in ids], total=70)

    stub.on("GET", ACCOUNTS, accounts)
    pages = list(make_client().iter_account_pages())
    assert [a.id for p in pages for a in p.items] == list(range(1, 71))
    assert len(pages) == 3
