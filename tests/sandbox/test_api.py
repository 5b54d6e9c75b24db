"""Envelopes, paging, filters, entities, ticket creation and attachments."""

from __future__ import annotations

from typing import Any

from bms_sandbox.constants import INVOICE_MODULE_ID, TICKET_MODULE_ID

from .conftest import Api

ACCOUNTS = 25  # default demo tenant


def _all(api: Api, path: str, **params: Any) -> list[dict[str, Any]]:
    out, page = [], 1
    while True:
        r = api.get(path, PageSize=100, PageNumber=page, **params)
        assert r.status_code == 200, r.text
        rows = r.json()["result"]
        out += rows
        if len(rows) < 100:
            return out
        page += 1


def test_envelopes_and_total_records(api: Api) -> None:
    paged = api.get("/v2/crm/accounts/summary").json()
    assert paged["success"] is True and paged["error"] is None and paged["totalRecords"] == ACCOUNTS
    assert set(paged) == {"success", "error", "result", "totalRecords"}
    listed = api.get("/v2/finance/invoices/summary").json()
    assert set(listed) == {"success", "error", "result"}  # ListResponse: no totalRecords
    tickets = api.post("/v2/servicedesk/tickets/search", {"PageSize": 5}).json()
    assert "totalRecords" in tickets and len(tickets["result"]) == 5
    single = api.get("/v2/finance/invoices/1").json()
    assert single["success"] is True and single["result"]["id"] == 1 and "lineItems" in single["result"]


def test_account_summary_by_id_is_bare_dto_as_documented(api: Api) -> None:
    r = api.get("/v2/crm/accounts/summary/3")
    body = r.json()
    assert "success" not in body and body["id"] == 3 and body["accountName"]
    assert api.get("/v2/crm/contacts/summary/3").json()["id"] == 3
    missing = api.get("/v2/crm/accounts/summary/99999")
    assert missing.status_code == 404 and missing.json()["success"] is False


def test_camel_case_and_dates(api: Api) -> None:
    acc = api.get("/v2/crm/accounts/summary", PageSize=1).json()["result"][0]
    assert {"accountName", "modifiedOn", "createdOn", "isActive", "locations"} <= set(acc)
    assert len(acc["modifiedOn"]) == 19 and acc["modifiedOn"][10] == "T"  # 2026-01-05T10:00:00, UTC
    loc = acc["locations"][0]
    assert loc["isMain"] and any(a["isBilling"] for a in loc["addresses"])


def test_paging_clamp_stable_and_short_last_page(api: Api) -> None:
    r = api.get("/v2/finance/invoices/summary", PageSize=500)
    assert len(r.json()["result"]) == 100  # clamped
    assert len(api.get("/v2/finance/invoices/summary").json()["result"]) == 10  # default page size
    everything = _all(api, "/v2/finance/invoices/summary")
    ids = [x["id"] for x in everything]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == ACCOUNTS * 12
    again = api.get("/v2/finance/invoices/summary", pagesize=100, pagenumber=2).json()["result"]
    assert [x["id"] for x in again] == ids[100:200]
    last = api.get("/v2/finance/invoices/summary", PageSize=100, PageNumber=3).json()["result"]
    assert (
        len(last) == 100 and api.get("/v2/finance/invoices/summary", PageSize=100, PageNumber=4).json()["result"] == []
    )
    contacts = api.get("/v2/crm/contacts/summary", PageSize=50, PageNumber=2).json()
    assert len(contacts["result"]) == contacts["totalRecords"] - 50


def test_modified_on_from_filters(api: Api, bms_sandbox: Any) -> None:
    for path, entity in (("/v2/crm/accounts/summary", "accounts"), ("/v2/crm/contacts/summary", "contacts")):
        truth = bms_sandbox.control.records(entity)
        cut = sorted(r["modifiedOn"] for r in truth)[len(truth) // 2]
        got = _all(api, path, **{"Filter.ModifiedOnFrom": cut + "Z"})
        assert {r["id"] for r in got} == {r["id"] for r in truth if r["modifiedOn"] >= cut}
        got_lower = _all(api, path, **{"filter.modifiedonfrom": cut})  # names are case-insensitive
        assert [r["id"] for r in got_lower] == [r["id"] for r in got]
        upto = _all(api, path, **{"Filter.ModifiedOnTo": cut})
        assert len(upto) + len(got) == len(truth) + sum(1 for r in truth if r["modifiedOn"] == cut)


def test_ticket_last_activity_and_account_filters(api: Api, bms_sandbox: Any) -> None:
    truth = bms_sandbox.control.records("tickets")
    cut = sorted(r["lastActivityUpdate"] for r in truth)[len(truth) * 3 // 4]
    body = {"PageSize": 100, "Filter": {"LastActivityUpdateFrom": cut}}
    got = api.post("/v2/servicedesk/tickets/search", body).json()
    want = {r["id"] for r in truth if r["lastActivityUpdate"] >= cut}
    assert {r["id"] for r in got["result"]} == want and got["totalRecords"] == len(want)
    by_acc = api.post("/v2/servicedesk/tickets/search", {"filter": {"accountIds": "3,4"}, "pageSize": 100}).json()
    assert {r["accountId"] for r in by_acc["result"]} == {3, 4}
    assert by_acc["totalRecords"] == sum(1 for r in truth if r["accountId"] in (3, 4))
    # the outbox lookup: Details + CreatedOnFrom + AccountIds
    t = truth[10]
    probe = {
        "Filter": {"Details": t["details"][5:25], "CreatedOnFrom": t["createdOn"], "AccountIds": str(t["accountId"])}
    }
    hits = api.post("/v2/servicedesk/tickets/search", probe).json()["result"]
    assert t["id"] in {h["id"] for h in hits}


def test_invoice_filters(api: Api, bms_sandbox: Any) -> None:
    truth = bms_sandbox.control.records("invoices")
    cut = sorted(r["createdOn"] for r in truth)[len(truth) - 40]
    got = _all(api, "/v2/finance/invoices/summary", **{"Filter.CreatedFrom": cut})
    assert [r["id"] for r in got] == sorted(r["id"] for r in truth if r["createdOn"] >= cut)
    acc = _all(api, "/v2/finance/invoices/summary", **{"Filter.AccountId": 7})
    assert acc and {r["accountId"] for r in acc} == {7}
    paid = _all(api, "/v2/finance/invoices/summary", **{"Filter.StatusId": 4})
    assert paid and all(r["statusName"] == "Paid" and r["paymentDue"] == 0 for r in paid)
    one = api.get("/v2/finance/invoices/summary", **{"Filter.InvoiceNumber": truth[4]["invoiceNumber"]}).json()
    assert [r["id"] for r in one["result"]] == [truth[4]["id"]]


def test_invoice_amounts_consistent(api: Api, bms_sandbox: Any) -> None:
    statuses = set()
    for inv in bms_sandbox.control.records("invoices"):
        statuses.add(inv["statusName"])
        lines = round(sum(li["totalPrice"] for li in inv["lineItems"]), 2)
        assert abs(lines - inv["totalPrice"]) < 0.005
        assert abs(inv["totalPrice"] - inv["discount"] + inv["totalTax"] - inv["grandTotal"]) < 0.005
        if inv["statusName"] != "Void":
            assert abs(inv["grandTotal"] - inv["paidAmount"] - inv["paymentDue"]) < 0.005
        assert inv["dueDate"] >= inv["invoiceDate"]
    assert {"Paid", "Partially Paid", "Sent"} <= statuses


def test_invoice_details_bulk_lines(api: Api) -> None:
    r = api.post(
        "/v2/finance/invoices/details", {"PageSize": 100, "PageNumber": 1, "Filter": {"ListInvoiceIds": "3,5,8"}}
    )
    body = r.json()
    assert set(body) == {"success", "error", "result"}
    assert sorted({li["invoiceId"] for li in body["result"]}) == [3, 5, 8]
    as_list = api.post("/v2/finance/invoices/details", {"Filter": {"ListInvoiceIds": [3, 5, 8]}, "PageSize": 100})
    assert as_list.json()["result"] == body["result"]
    page2 = api.post(
        "/v2/finance/invoices/details", {"PageSize": 4, "PageNumber": 2, "Filter": {"ListInvoiceIds": "3,5,8"}}
    ).json()["result"]
    assert page2 == body["result"][4:8]
    single = api.get("/v2/finance/invoices/5").json()["result"]
    assert [li["id"] for li in single["lineItems"]] == [li["id"] for li in body["result"] if li["invoiceId"] == 5]


def test_contacts_billing_variety(bms_sandbox: Any, api: Api) -> None:
    contacts = bms_sandbox.control.records("contacts")
    kinds = set()
    for a in range(1, ACCOUNTS + 1):
        mine = [c for c in contacts if c["accountId"] == a]
        kinds.add(
            "recipient"
            if any(c["canRecieveInvoices"] for c in mine)
            else "poc_only"
            if any(c["isPoc"] for c in mine)
            else "none"
        )
    assert kinds == {"recipient", "poc_only", "none"}
    by_acc = _all(api, "/v2/crm/contacts/summary", **{"Filter.AccountId": 2})
    assert by_acc and {c["accountId"] for c in by_acc} == {2}
    c = by_acc[0]
    assert {"isPoc", "canRecieveInvoices", "emails", "phones", "modifiedOn"} <= set(c)
    email = next(e["emailAddress"] for e in c["emails"] if e["isDefault"])
    found = api.get("/v2/crm/contacts/summary", **{"Filter.Email": email.upper()}).json()["result"]
    assert c["id"] in [x["id"] for x in found]
    search = api.get("/v2/crm/contacts/search", **{"Filter.AccountIds": 2, "Filter.IsPoc": "true"}).json()
    assert "totalRecords" not in search and all(x["isPoc"] and x["accountId"] == 2 for x in search["result"])


def test_locations_and_contracts(api: Api) -> None:
    locs = api.get("/v2/crm/accounts/4/locations/lookup").json()["result"]
    assert len(locs) == 2 and sum(lo["isMain"] for lo in locs) == 1 and all(lo["accountId"] == 4 for lo in locs)
    loc = api.get(f"/v2/crm/accounts/4/locations/{locs[0]['id']}").json()["result"]
    assert loc["addresses"] and loc["id"] == locs[0]["id"]
    assert api.get(f"/v2/crm/accounts/5/locations/{locs[0]['id']}").status_code == 404
    contracts = api.get("/v2/finance/contracts/summary", PageSize=100).json()
    assert contracts["totalRecords"] == ACCOUNTS * 2 and "accountId" not in contracts["result"][0]
    lookup = api.get("/v2/finance/contracts/lookup", AccountId=4).json()
    assert "totalRecords" not in lookup and len(lookup["result"]) == 2
    name = contracts["result"][0]["accountName"]
    assert all(
        c["accountName"] == name
        for c in api.get("/v2/finance/contracts/summary", **{"Filter.AccountName": name}).json()["result"]
    )


def test_lookups(api: Api) -> None:
    for path in (
        "/v2/system/queues/lookup",
        "/v2/system/priorities/lookup",
        "/v2/system/statuses/lookup",
        "/v2/system/issuetypes/lookup",
        "/v2/system/issuetypes/1/issuesubtypes/lookup",
        "/v2/system/lookup/TicketType",
        "/v2/system/lookup/ticketsource",
    ):
        body = api.get(path).json()
        assert body["success"] and body["result"], path
    assert api.get("/v2/system/lookup/NoSuchTable").status_code == 404


def _ticket(**over: Any) -> dict[str, Any]:
    body = {
        "Title": "Printer on fire",
        "Details": "outbox-1234 please help",
        "AccountId": 3,
        "LocationId": 5,
        "StatusId": 1,
        "PriorityId": 2,
        "TypeId": 1,
        "SourceId": 0,
        "OpenDate": "2026-01-05T10:00:00Z",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def test_ticket_create_and_read_back(api: Api) -> None:
    r = api.post("/v2/servicedesk/tickets", _ticket(ContactId=3, QueueId=1, IssueTypeId=1, SubIssueTypeId=12))
    assert r.status_code == 200, r.text
    t = r.json()["result"]
    assert t["ticketNumber"].startswith("T") and "." in t["ticketNumber"] and t["accountId"] == 3
    assert t["statusName"] == "New" and t["priorityName"] == "Medium" and t["subIssueTypeName"] == "Printer"
    again = api.get(f"/v2/servicedesk/tickets/{t['id']}").json()["result"]
    assert again["ticketNumber"] == t["ticketNumber"]
    second = api.post("/v2/servicedesk/tickets", _ticket()).json()["result"]
    assert second["ticketNumber"] != t["ticketNumber"]
    found = api.post("/v2/servicedesk/tickets/search", {"Filter": {"Details": "outbox-1234", "AccountIds": "3"}}).json()
    assert {x["id"] for x in found["result"]} == {t["id"], second["id"]}


def test_ticket_create_validation(api: Api) -> None:
    cases = {
        "PriorityId": _ticket(PriorityId=99),
        "StatusId": _ticket(StatusId=42),
        "TypeId": _ticket(TypeId=77),
        "SourceId": _ticket(SourceId=3),
        "LocationId": _ticket(LocationId=1),
        "AccountId": _ticket(AccountId=9999),
        "ContactId": _ticket(ContactId=4),
        "QueueId": _ticket(QueueId=5),
        "Title": _ticket(Title=""),
        "OpenDate": _ticket(OpenDate=None),
        "SubIssueTypeId": _ticket(IssueTypeId=1, SubIssueTypeId=21),
    }
    for fld, body in cases.items():
        r = api.post("/v2/servicedesk/tickets", body)
        assert r.status_code == 400, (fld, r.text)
        err = r.json()
        assert err["success"] is False and fld in err["error"]["message"], (fld, err)


def test_invoice_attachments(api: Api) -> None:
    r = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/3")
    body = r.json()
    assert body["totalRecords"] == 1
    att = body["result"][0]
    assert att["fileType"] == "application/pdf" and att["objectId"] == 3
    pdf = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/3/{att['id']}/download")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and pdf.content.rstrip().endswith(b"%%EOF")
    inv = api.get("/v2/finance/invoices/3").json()["result"]
    assert inv["invoiceNumber"].encode() in pdf.content
    assert f"{inv['grandTotal']:.2f}".encode() in pdf.content
    none = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/7").json()
    assert none["result"] == [] and none["totalRecords"] == 0
    assert api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/99999").status_code == 404
    assert api.get(f"/v2/system/attachments/{TICKET_MODULE_ID}/1").json()["result"] == []


def test_pdf_parses_with_pypdf(api: Api) -> None:
    import io

    import pytest

    pypdf = pytest.importorskip("pypdf")
    att = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/2").json()["result"][0]
    pdf = api.get(f"/v2/system/attachments/{INVOICE_MODULE_ID}/2/{att['id']}/download").content
    text = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "INV-10002" in text and "Grand total" in text


def test_unknown_path_and_bad_param(api: Api) -> None:
    assert api.get("/v2/nope").status_code == 404
    r = api.get("/v2/crm/accounts/summary", **{"Filter.ModifiedOnFrom": "yesterday"})
    assert r.status_code == 400 and "ModifiedOnFrom" in r.json()["error"]["message"]
