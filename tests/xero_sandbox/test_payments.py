"""Payments: partial, full (PAID), refusals in Xero's validation shape, reversal, batches, idempotency."""

from __future__ import annotations

from typing import Any

from .conftest import XeroClient


def _open_invoice(xero: XeroClient, n: int = 0) -> dict[str, Any]:
    open_ = [
        i for i in xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"] if i["AmountPaid"] == 0
    ]
    return open_[n]


def _pay(
    invoice_id: str, amount: float, reference: str = "Portal payment", code: str = "615", **kw: Any
) -> dict[str, Any]:
    return {
        "Invoice": {"InvoiceID": invoice_id},
        "Account": {"Code": code},
        "Date": "2026-01-15",
        "Amount": amount,
        "Reference": reference,
        **kw,
    }


def _messages(r: Any) -> list[str]:
    body = r.json()
    assert r.status_code == 400 and body["Type"] == "ValidationException" and body["ErrorNumber"] == 10
    assert body["Message"] == "A validation exception occurred"
    return [m["Message"] for el in body["Elements"] for m in el["ValidationErrors"]]


def test_partial_then_full_payment(xero: XeroClient, xero_sandbox: Any) -> None:
    inv = _open_invoice(xero)
    total = inv["Total"]
    part = round(total / 3, 2)
    r = xero.put("/Payments", {"Payments": [_pay(inv["InvoiceID"], part, "CB-PAY-1")]})
    assert r.status_code == 200
    pay = r.json()["Payments"][0]
    assert pay["Amount"] == part and pay["Reference"] == "CB-PAY-1" and pay["Status"] == "AUTHORISED"
    assert pay["Invoice"]["InvoiceNumber"] == inv["InvoiceNumber"] and pay["Account"]["Code"] == "615"
    assert pay["Date"] == "/Date(1768435200000+0000)/"
    got = xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert got["AmountPaid"] == part and got["AmountDue"] == round(total - part, 2) and got["Status"] == "AUTHORISED"
    assert [p["PaymentID"] for p in got["Payments"]] == [pay["PaymentID"]]
    assert got["UpdatedDateUTC"] > inv["UpdatedDateUTC"]
    # POST works like PUT; a single payment object is accepted too
    rest = round(total - part, 2)
    r2 = xero.post("/Payments", _pay(inv["InvoiceID"], rest, "CB-PAY-2"))
    assert r2.status_code == 200
    paid = xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert (
        paid["Status"] == "PAID" and paid["AmountDue"] == 0 and paid["AmountPaid"] == total and paid["FullyPaidOnDate"]
    )
    # the reference is stored and filterable; the control API lists created payments
    found = xero.get("/Payments", params={"where": 'Reference=="CB-PAY-2"'}).json()["Payments"]
    assert [p["PaymentID"] for p in found] == [r2.json()["Payments"][0]["PaymentID"]]
    by_inv = xero.get("/Payments", params={"where": f'Invoice.InvoiceID==guid("{inv["InvoiceID"]}")'}).json()[
        "Payments"
    ]
    assert sorted(p["Reference"] for p in by_inv) == ["CB-PAY-1", "CB-PAY-2"]
    listed = xero_sandbox.control.payments()
    assert [(p["InvoiceNumber"], p["Reference"], p["Status"]) for p in listed] == [
        (inv["InvoiceNumber"], "CB-PAY-1", "AUTHORISED"),
        (inv["InvoiceNumber"], "CB-PAY-2", "AUTHORISED"),
    ]


def test_refusals(xero: XeroClient) -> None:
    inv = _open_invoice(xero)
    over = xero.put("/Payments", {"Payments": [_pay(inv["InvoiceID"], inv["AmountDue"] + 0.01)]})
    assert _messages(over) == ["Payment amount exceeds the amount outstanding on this document"]
    element = over.json()["Elements"][0]
    assert element["Invoice"] == {"InvoiceID": inv["InvoiceID"]} and element["Amount"] == round(
        inv["AmountDue"] + 0.01, 2
    )
    voided = xero.get("/Invoices", params={"Statuses": "VOIDED"}).json()["Invoices"][0]
    assert _messages(xero.put("/Payments", _pay(voided["InvoiceID"], 1))) == [
        "Payments can only be made against Authorised documents"
    ]
    paid = xero.get("/Invoices", params={"Statuses": "PAID"}).json()["Invoices"][0]
    assert _messages(xero.put("/Payments", _pay(paid["InvoiceID"], 1))) == [
        "Payments can only be made against Authorised documents"
    ]
    assert _messages(xero.put("/Payments", _pay(inv["InvoiceID"], 1, code="200"))) == [
        "Payments can only be made to a bank account or an account with payments enabled"
    ]
    assert _messages(xero.put("/Payments", _pay(inv["InvoiceID"], 1, code="092"))) == ["The account 092 is archived"]
    assert "Payment amount must be greater than zero" in _messages(xero.put("/Payments", _pay(inv["InvoiceID"], 0)))
    assert "Invoice could not be found" in _messages(
        xero.put("/Payments", _pay("00000000-0000-4000-8000-000000000000", 1))
    )
    no_date = _pay(inv["InvoiceID"], 1)
    del no_date["Date"]
    assert _messages(xero.put("/Payments", no_date)) == ["A valid payment date must be specified"]
    # nothing was applied
    assert xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 0


def test_batch_is_all_or_nothing_unless_summarize_errors_false(xero: XeroClient) -> None:
    a, b = _open_invoice(xero, 0), _open_invoice(xero, 1)
    batch = {"Payments": [_pay(a["InvoiceID"], 10), _pay(b["InvoiceID"], b["AmountDue"] + 5)]}
    assert _messages(xero.put("/Payments", batch)) == ["Payment amount exceeds the amount outstanding on this document"]
    assert xero.get(f"/Invoices/{a['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 0
    mixed = xero.put("/Payments", batch, params={"summarizeErrors": "false"})
    assert mixed.status_code == 200
    first, second = mixed.json()["Payments"]
    assert first["HasValidationErrors"] is False and first["Status"] == "AUTHORISED"
    assert second["HasValidationErrors"] is True and second["ValidationErrors"][0]["Message"].startswith(
        "Payment amount exceeds"
    )
    assert xero.get(f"/Invoices/{a['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 10
    # two payments on one invoice in one batch count against the same outstanding amount
    two = xero.put("/Payments", {"Payments": [_pay(b["InvoiceID"], b["AmountDue"]), _pay(b["InvoiceID"], 1)]})
    assert _messages(two) == ["Payment amount exceeds the amount outstanding on this document"]


def test_reversal(xero: XeroClient, xero_sandbox: Any) -> None:
    inv = _open_invoice(xero)
    pay = xero.put("/Payments", _pay(inv["InvoiceID"], inv["AmountDue"], "FULL")).json()["Payments"][0]
    assert xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]["Status"] == "PAID"
    r = xero.post(f"/Payments/{pay['PaymentID']}", {"Status": "DELETED"})
    assert r.status_code == 200 and r.json()["Payments"][0]["Status"] == "DELETED"
    back = xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]
    assert back["Status"] == "AUTHORISED" and back["AmountDue"] == inv["AmountDue"] and back["AmountPaid"] == 0
    assert back["Payments"] == [] and "FullyPaidOnDate" not in back
    assert xero.get(f"/Payments/{pay['PaymentID']}").json()["Payments"][0]["Status"] == "DELETED"
    again = xero.post(f"/Payments/{pay['PaymentID']}", {"Status": "DELETED"})
    assert _messages(again) == ["This payment has already been deleted"]
    assert _messages(xero.post(f"/Payments/{pay['PaymentID']}", {"Status": "AUTHORISED"})) == [
        "Only Status DELETED can be set on a payment"
    ]
    assert xero_sandbox.control.payments()[0]["Status"] == "DELETED"
    # a generated (historical) payment can be reversed too
    hist = xero.get("/Payments", params={"where": 'Status=="AUTHORISED"', "page": 1, "pageSize": 1}).json()["Payments"][
        0
    ]
    before = xero.get(f"/Invoices/{hist['Invoice']['InvoiceID']}").json()["Invoices"][0]
    assert xero.post(f"/Payments/{hist['PaymentID']}", {"Status": "DELETED"}).status_code == 200
    reopened = xero.get(f"/Invoices/{hist['Invoice']['InvoiceID']}").json()["Invoices"][0]
    assert reopened["Status"] == "AUTHORISED"
    assert reopened["AmountDue"] == round(before["AmountDue"] + hist["Amount"], 2)
    assert reopened["AmountPaid"] == round(before["AmountPaid"] - hist["Amount"], 2)


def test_payments_list_filters_and_paging(xero: XeroClient) -> None:
    everything = xero.get("/Payments").json()["Payments"]
    assert everything and all(p["PaymentType"] == "ACCRECPAYMENT" for p in everything)
    page = xero.get("/Payments", params={"page": 1, "pageSize": 7}).json()
    assert len(page["Payments"]) == 7 and page["pagination"]["itemCount"] == len(everything)
    auth = xero.get("/Payments", params={"where": 'Status=="AUTHORISED" AND PaymentType=="ACCRECPAYMENT"'}).json()
    assert len(auth["Payments"]) == len(everything)
    ref = everything[3]["Reference"]
    same_ref = xero.get("/Payments", params={"where": f'Reference=="{ref}"'}).json()["Payments"]
    assert everything[3]["PaymentID"] in {p["PaymentID"] for p in same_ref} and all(
        p["Reference"] == ref for p in same_ref
    )
    amount = xero.get("/Payments", params={"where": "Amount>=1000"}).json()["Payments"]
    assert all(p["Amount"] >= 1000 for p in amount) and len(amount) < len(everything)


def test_idempotency_key(xero: XeroClient) -> None:
    inv = _open_invoice(xero)
    body = _pay(inv["InvoiceID"], 5, "IDEM")
    first = xero.put("/Payments", body, headers={"Idempotency-Key": "k-1"})
    second = xero.put("/Payments", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == second.status_code == 200
    assert first.json()["Payments"][0]["PaymentID"] == second.json()["Payments"][0]["PaymentID"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 5
    other = xero.put("/Payments", _pay(inv["InvoiceID"], 6), headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 400
    assert xero.put("/Payments", body, headers={"Idempotency-Key": "x" * 129}).status_code == 400
