"""Contacts, Invoices, Accounts, Organisation: each endpoint and filter (answers validated by spec.py)."""

from __future__ import annotations

from typing import Any

from bms_sandbox.data import Options as BmsOptions
from bms_sandbox.data import Tenant as BmsTenant

from .conftest import XeroClient


def _bms(xero_sandbox: Any) -> BmsTenant:
    """The BMS tenant the sandbox was seeded from (same options, same anchor)."""
    anchor = xero_sandbox.control.health()["anchor"]
    return BmsTenant(BmsOptions(anchor=anchor))


def test_contacts_list_and_get(xero: XeroClient, xero_sandbox: Any) -> None:
    body = xero.get("/Contacts").json()
    contacts = body["Contacts"]
    assert "pagination" not in body and body["Status"] == "OK" and body["DateTimeUTC"].startswith("/Date(")
    assert all(c["ContactStatus"] == "ACTIVE" for c in contacts)
    everyone = xero.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    assert len(everyone) == 25 + 2 and len(everyone) > len(contacts)
    one = xero.get(f"/Contacts/{contacts[0]['ContactID']}").json()["Contacts"]
    assert one == [contacts[0]]
    assert xero.get("/Contacts/00000000-0000-4000-8000-000000000001").status_code == 404
    ids = ",".join(c["ContactID"] for c in contacts[2:4])
    assert [c["ContactID"] for c in xero.get("/Contacts", params={"IDs": ids}).json()["Contacts"]] == ids.split(",")


def test_contacts_filters(xero: XeroClient) -> None:
    contacts = xero.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    with_number = next(c for c in contacts if c.get("AccountNumber") and c["ContactStatus"] == "ACTIVE")
    by_number = xero.get("/Contacts", params={"where": f'AccountNumber=="{with_number["AccountNumber"]}"'}).json()
    assert [c["ContactID"] for c in by_number["Contacts"]] == [with_number["ContactID"]]
    name = with_number["Name"]
    by_name = xero.get("/Contacts", params={"where": f'Name=="{name}" AND ContactStatus=="ACTIVE"'}).json()["Contacts"]
    assert [c["Name"] for c in by_name] == [name]
    assert xero.get("/Contacts", params={"where": f'Name=="{name.lower()}"'}).json()["Contacts"] == []  # case-sensitive
    lower = xero.get("/Contacts", params={"where": f'Name.ToLower()=="{name.lower()}"'}).json()["Contacts"]
    assert [c["Name"] for c in lower] == [name]
    word = name.split()[0]
    search = xero.get("/Contacts", params={"searchTerm": word.lower()}).json()["Contacts"]
    assert search and all(word.lower() in (c["Name"] + c.get("EmailAddress", "")).lower() for c in search)
    contains = xero.get("/Contacts", params={"where": f'Name.Contains("{word}") && IsCustomer==true'}).json()[
        "Contacts"
    ]
    assert {c["ContactID"] for c in contains} <= {c["ContactID"] for c in contacts} and contains


def test_where_errors_are_400(xero: XeroClient) -> None:
    for where in ('Name=="x" XOR Name=="y"', 'Colour=="red"', 'Name.Matches("x")', 'Name=="unterminated'):
        r = xero.get("/Contacts", params={"where": where})
        assert r.status_code == 400, where
        assert r.json()["Type"] == "QueryParseException" and r.json()["Message"]


def test_contact_seed_rules(xero: XeroClient, xero_sandbox: Any) -> None:
    """AccountNumber = BMS code except c % 4 == 3; c % 5 == 2 renamed; billing e-mails only in Xero."""
    bms = _bms(xero_sandbox)
    contacts = xero.get("/Contacts", params={"includeArchived": "true"}).json()["Contacts"]
    by_idx = {int(c["ContactID"][-12:], 16): c for c in contacts}
    for a in range(1, 26):
        acc = bms.get("accounts", a)
        c = by_idx[a]
        assert c.get("AccountNumber") == (None if a % 4 == 3 else acc["accountCode"])
        if a % 5 == 2:
            assert c["Name"] != acc["accountName"]
            norm = lambda s: "".join(ch for ch in s.lower() if ch.isalnum()).removesuffix("llc").removesuffix("inc")  # noqa: E731
            assert norm(c["Name"]).startswith(norm(acc["accountName"])[:12])
        else:
            assert c["Name"] == acc["accountName"]
    kinds = {a: bms.billing_kind(a) for a in range(1, 26)}
    only_xero = [
        a
        for a, k in kinds.items()
        if k != "recipient"
        and (by_idx[a].get("EmailAddress") or any(p["IncludeInEmails"] for p in by_idx[a]["ContactPersons"]))
    ]
    assert only_xero  # some billing e-mails exist only in Xero
    assert any(p["IncludeInEmails"] is False for c in contacts for p in c["ContactPersons"])
    xero_only = [c for i, c in by_idx.items() if i > 25]
    assert len(xero_only) == 2 and all(c["AccountNumber"].startswith("X") for c in xero_only)


def test_invoices_match_bms(xero: XeroClient, xero_sandbox: Any) -> None:
    bms = _bms(xero_sandbox)
    invoices = xero.get("/Invoices").json()["Invoices"]
    assert all(inv["LineItems"] == [] for inv in invoices)  # unpaged: no line items
    by_number = {inv["InvoiceNumber"]: inv for inv in invoices}
    statuses = set()
    for i in range(1, 25 * 12 + 1):
        b = bms.get("invoices", i)
        inv = by_number.get(b["invoiceNumber"])
        if b["statusName"] == "Void" or b["postedToAccounting"]:
            assert inv is not None, b["invoiceNumber"]
        else:
            assert inv is None
            continue
        statuses.add(inv["Status"])
        assert inv["Status"] == {"Paid": "PAID", "Void": "VOIDED"}.get(b["statusName"], "AUTHORISED")
        assert inv["Total"] == b["grandTotal"] and inv["CurrencyCode"] == "USD"
        assert inv["DueDate"] == f"/Date({b['dueDate'].t * 1000}+0000)/"
        if inv["Status"] != "VOIDED":
            assert inv["AmountDue"] == b["paymentDue"] and inv["AmountPaid"] == b["paidAmount"]
        assert inv["UpdatedDateUTC"].startswith("/Date(") and inv["UpdatedDateUTC"].endswith("+0000)/")
    assert statuses == {"AUTHORISED", "PAID", "VOIDED"}


def test_invoice_paging(xero: XeroClient) -> None:
    total = len(xero.get("/Invoices").json()["Invoices"])
    first = xero.get("/Invoices", params={"page": 1}).json()
    assert len(first["Invoices"]) == 100 and first["pagination"] == {
        "page": 1,
        "pageSize": 100,
        "pageCount": (total + 99) // 100,
        "itemCount": total,
    }
    assert all(inv["LineItems"] for inv in first["Invoices"] if inv["Status"] != "VOIDED")
    seen = []
    page = 1
    while True:
        got = xero.get("/Invoices", params={"page": page, "pageSize": 50}).json()["Invoices"]
        seen += [inv["InvoiceID"] for inv in got]
        if len(got) < 50:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total
    big = xero.get("/Invoices", params={"page": 1, "pageSize": 5000}).json()
    assert big["pagination"]["pageSize"] == 1000
    assert xero.get("/Invoices", params={"page": 99}).json()["Invoices"] == []
    assert xero.get("/Contacts", params={"page": 1, "pageSize": 10}).json()["pagination"]["pageSize"] == 10


def test_invoice_filters(xero: XeroClient) -> None:
    invoices = xero.get("/Invoices").json()["Invoices"]
    nums = [inv["InvoiceNumber"] for inv in invoices[:3]]
    got = xero.get("/Invoices", params={"InvoiceNumbers": ",".join(nums)}).json()["Invoices"]
    assert [inv["InvoiceNumber"] for inv in got] == nums
    ids = [inv["InvoiceID"] for inv in invoices[5:7]]
    assert [inv["InvoiceID"] for inv in xero.get("/Invoices", params={"IDs": ",".join(ids)}).json()["Invoices"]] == ids
    auth = xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"]
    assert auth and {inv["Status"] for inv in auth} == {"AUTHORISED"}
    assert len(xero.get("/Invoices", params={"Statuses": "AUTHORISED,PAID"}).json()["Invoices"]) == len(
        [i for i in invoices if i["Status"] in ("AUTHORISED", "PAID")]
    )
    contact = invoices[0]["Contact"]["ContactID"]
    where = f'Status=="AUTHORISED" AND Contact.ContactID==guid("{contact}")'
    mine = xero.get("/Invoices", params={"where": where}).json()["Invoices"]
    assert mine == [
        i
        for i in xero.get("/Invoices", params={"ContactIDs": contact}).json()["Invoices"]
        if i["Status"] == "AUTHORISED"
    ]
    one = xero.get("/Invoices", params={"where": f'InvoiceNumber=="{nums[1]}"'}).json()["Invoices"]
    assert [i["InvoiceNumber"] for i in one] == [nums[1]]
    with_ref = next(i for i in invoices if i["Reference"])
    by_ref = xero.get("/Invoices", params={"where": f'Reference=="{with_ref["Reference"]}"'}).json()["Invoices"]
    assert with_ref["InvoiceID"] in {i["InvoiceID"] for i in by_ref}
    total_gt = xero.get("/Invoices", params={"where": 'Total>5000 && Status!="VOIDED"'}).json()["Invoices"]
    assert total_gt and all(i["Total"] > 5000 and i["Status"] != "VOIDED" for i in total_gt)
    dated = xero.get("/Invoices", params={"where": 'Date>=DateTime(2000,1,1) OR Status=="VOIDED"'}).json()["Invoices"]
    assert len(dated) == len(invoices)
    assert (
        xero.get("/Invoices", params={"searchTerm": nums[0].lower()}).json()["Invoices"][0]["InvoiceNumber"] == nums[0]
    )
    assert xero.get("/Invoices", params={"createdByMyApp": "true"}).json()["Invoices"] == []
    summary = xero.get("/Invoices", params={"summaryOnly": "true", "page": 1}).json()["Invoices"][0]
    assert "LineItems" not in summary and "Payments" not in summary and summary["Total"]


def test_if_modified_since(xero: XeroClient, xero_sandbox: Any) -> None:
    from xero_sandbox.data import parse_ms_date

    invoices = xero.get("/Invoices").json()["Invoices"]
    stamps = sorted(parse_ms_date(i["UpdatedDateUTC"]) for i in invoices)
    cut = stamps[len(stamps) * 3 // 4]
    import time

    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(cut))
    since = xero.get("/Invoices", headers={"If-Modified-Since": iso}).json()["Invoices"]
    assert len(since) == sum(1 for s in stamps if s >= cut) and since
    http_date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(cut))
    assert len(xero.get("/Invoices", headers={"If-Modified-Since": http_date}).json()["Invoices"]) == len(since)
    # a change bumps UpdatedDateUTC: the contact shows up in an incremental read
    now_iso = xero_sandbox.control.health()["now"]
    before = xero.get("/Contacts", headers={"If-Modified-Since": now_iso}).json()["Contacts"]
    assert before == []
    cid = xero.get("/Contacts").json()["Contacts"][3]["ContactID"]
    xero_sandbox.control.mutate("contact.update", contact=cid, EmailAddress="new@x.example")
    after = xero.get("/Contacts", headers={"If-Modified-Since": now_iso}).json()["Contacts"]
    assert [c["ContactID"] for c in after] == [cid] and after[0]["EmailAddress"] == "new@x.example"
    assert xero.get("/Invoices", headers={"If-Modified-Since": "not a date"}).status_code == 400


def test_invoice_get_and_pdf(xero: XeroClient) -> None:
    import io

    from pypdf import PdfReader

    inv = xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"][0]
    got = xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert got["InvoiceNumber"] == inv["InvoiceNumber"] and got["LineItems"]
    assert round(sum(li["LineAmount"] for li in got["LineItems"]), 2) == got["SubTotal"]
    assert round(got["SubTotal"] + got["TotalTax"], 2) == got["Total"]
    assert xero.get(f"/Invoices/{inv['InvoiceNumber']}").json()["Invoices"][0]["InvoiceID"] == inv["InvoiceID"]
    pdf = xero.get(f"/Invoices/{inv['InvoiceID']}", headers={"Accept": "application/pdf"})
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert inv["InvoiceNumber"] in text and f"{inv['AmountDue']:.2f}" in text
    assert xero.get(f"/Invoices/{inv['InvoiceID']}/pdf").content[:5] == b"%PDF-"
    assert xero.get("/Invoices/INV-99999999").status_code == 404


def test_accounts_and_organisation(xero: XeroClient) -> None:
    accounts = xero.get("/Accounts").json()["Accounts"]
    assert {a["Code"] for a in accounts} >= {"090", "615"}
    banks = xero.get("/Accounts", params={"where": 'Type=="BANK" AND Status=="ACTIVE"'}).json()["Accounts"]
    assert [a["Code"] for a in banks] == ["090", "091"]
    clearing = xero.get("/Accounts", params={"where": "EnablePaymentsToAccount==true"}).json()["Accounts"]
    assert [a["Code"] for a in clearing] == ["615"]
    one = xero.get(f"/Accounts/{clearing[0]['AccountID']}").json()["Accounts"]
    assert one == clearing
    org = xero.get("/Organisation").json()["Organisations"][0]
    assert org["BaseCurrency"] == "USD" and org["Name"] == "Demo MSP" and org["OrganisationID"] == xero.tenant_id
