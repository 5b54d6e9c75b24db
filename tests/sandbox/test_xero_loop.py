"""The loop back: BMS imports the payments posted to the Xero sandbox (its own Xero integration)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from xero_sandbox.testing import XeroSandboxServer

from .conftest import Api


@pytest.fixture(scope="module")
def xero_server(bms_sandbox_server: Any) -> Iterator[XeroSandboxServer]:
    """A Xero sandbox seeded from the same tenant as the session BMS sandbox (same anchor)."""
    anchor = bms_sandbox_server.control.health()["anchor"]
    with XeroSandboxServer(in_thread=True, anchor=anchor) as server:
        yield server


@pytest.fixture
def xero(xero_server: XeroSandboxServer, bms_sandbox: Any) -> Iterator[requests.Session]:
    xero_server.control.reset()
    tok = xero_server.control.grant()
    s = requests.Session()
    s.headers.update({"Authorization": "Bearer " + tok["access_token"], "xero-tenant-id": tok["tenant_ids"][0]})
    s.base = xero_server.url + "/api.xro/2.0"  # type: ignore[attr-defined]
    yield s
    bms_sandbox.control.configure_xero(interval_seconds=0)
    s.close()


def _open_invoice(xero: requests.Session) -> dict[str, Any]:
    rows = xero.get(xero.base + "/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"]  # type: ignore[attr-defined]
    return next(r for r in rows if r["AmountPaid"] == 0)


def _pay(xero: requests.Session, invoice: dict[str, Any], amount: float, ref: str) -> dict[str, Any]:
    body = {
        "Invoice": {"InvoiceID": invoice["InvoiceID"]},
        "Account": {"Code": "615"},
        "Date": "2026-01-05",
        "Amount": amount,
        "Reference": ref,
    }
    r = xero.put(xero.base + "/Payments", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return r.json()["Payments"][0]


def _bms_invoice(api: Api, number: str) -> dict[str, Any]:
    rows = api.get("/v2/finance/invoices/summary", **{"Filter.InvoiceNumber": number}).json()["result"]
    return next(r for r in rows if r["invoiceNumber"] == number)


def test_payments_loop_back_once(
    api: Api, bms_sandbox: Any, xero: requests.Session, xero_server: XeroSandboxServer
) -> None:
    ctl = bms_sandbox.control
    inv = _open_invoice(xero)
    before = _bms_invoice(api, inv["InvoiceNumber"])
    assert before["paymentDue"] == inv["AmountDue"] and before["statusName"] == "Sent"
    part = round(inv["Total"] / 4, 2)
    first = _pay(xero, inv, part, "CB-1")
    result = ctl.xero_import(xero_server.url)
    assert [p["PaymentID"] for p in result["imported"]] == [first["PaymentID"]]
    after = _bms_invoice(api, inv["InvoiceNumber"])
    assert after["paidAmount"] == part and after["paymentDue"] == round(inv["Total"] - part, 2)
    assert after["statusName"] == "Partially Paid" and after["modifiedOn"] >= before["modifiedOn"]
    # importing again does not double-count
    assert ctl.xero_import()["imported"] == []
    assert _bms_invoice(api, inv["InvoiceNumber"])["paidAmount"] == part
    # the rest: the next BMS sync shows the invoice paid
    second = _pay(xero, inv, round(inv["Total"] - part, 2), "CB-2")
    assert [p["PaymentID"] for p in ctl.xero_import()["imported"]] == [second["PaymentID"]]
    paid = _bms_invoice(api, inv["InvoiceNumber"])
    assert paid["statusName"] == "Paid" and paid["paymentDue"] == 0
    # a payment deleted in Xero is reversed once
    r = xero.post(f"{xero.base}/Payments/{second['PaymentID']}", json={"Status": "DELETED"})  # type: ignore[attr-defined]
    assert r.status_code == 200
    rev = ctl.xero_import()
    assert [p["PaymentID"] for p in rev["reversed"]] == [second["PaymentID"]] and rev["imported"] == []
    back = _bms_invoice(api, inv["InvoiceNumber"])
    assert back["paidAmount"] == part and back["statusName"] == "Partially Paid"
    assert ctl.xero_import()["reversed"] == []
    state = ctl.xero_state()
    assert state["imported"] == 2 and state["url"] == xero_server.url and state["runs"] == 5


def test_scheduled_import(api: Api, bms_sandbox: Any, xero: requests.Session, xero_server: XeroSandboxServer) -> None:
    ctl = bms_sandbox.control
    inv = _open_invoice(xero)
    _pay(xero, inv, inv["AmountDue"], "CB-SCHED")
    assert _bms_invoice(api, inv["InvoiceNumber"])["statusName"] == "Sent"  # nothing imports by itself
    ctl.configure_xero(url=xero_server.url, interval_seconds=0.2)
    deadline = time.monotonic() + 10
    while _bms_invoice(api, inv["InvoiceNumber"])["statusName"] != "Paid":
        assert time.monotonic() < deadline, ctl.xero_state()
        time.sleep(0.1)
    ctl.configure_xero(interval_seconds=0)
    runs = ctl.xero_state()["runs"]
    assert runs >= 1 and ctl.xero_state()["last_error"] is None


def test_reset_forgets_imports_with_the_data(
    api: Api, bms_sandbox: Any, xero: requests.Session, xero_server: XeroSandboxServer
) -> None:
    ctl = bms_sandbox.control
    inv = _open_invoice(xero)
    _pay(xero, inv, 10, "CB-R")
    assert len(ctl.xero_import(xero_server.url)["imported"]) == 1
    ctl.reset()  # BMS data back to generated: the payment is imported again, once
    api.login()
    assert len(ctl.xero_import(xero_server.url)["imported"]) == 1
    assert _bms_invoice(api, inv["InvoiceNumber"])["paidAmount"] == 10
