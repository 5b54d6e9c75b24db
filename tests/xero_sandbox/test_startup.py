"""Start-up: the CLI in a subprocess, loopback only, a large tenant, the / page."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from xero_sandbox.app import Options
from xero_sandbox.server import make_server
from xero_sandbox.testing import XeroSandboxServer

from .conftest import XeroClient


def test_binds_loopback_only() -> None:
    with pytest.raises(ValueError):
        make_server(Options(), "0.0.0.0", 0)


def test_large_tenant_starts_fast_in_a_subprocess() -> None:
    t0 = time.monotonic()
    with XeroSandboxServer(accounts=1000, invoices_per_account=100, anchor="2026-01-01T00:00:00") as server:
        started = time.monotonic() - t0
        tok = server.control.grant()
        tenant = tok["tenant_ids"][0]
        api = XeroClient(server.url, tenant, tok["access_token"])
        t1 = time.monotonic()
        first = api.get("/Invoices", params={"page": 1}).json()
        assert len(first["Invoices"]) == 100 and first["pagination"]["itemCount"] > 60_000
        last_page = first["pagination"]["pageCount"]
        assert len(api.get("/Invoices", params={"page": last_page}).json()["Invoices"]) >= 1
        recent = api.get("/Invoices", headers={"If-Modified-Since": "2025-12-25T00:00:00"}).json()["Invoices"]
        assert recent and len(recent) < 5000
        one = api.get("/Invoices/INV-99999").json()["Invoices"]
        assert one[0]["InvoiceNumber"] == "INV-99999" or one == []
        contacts = api.get("/Contacts", params={"page": 10}).json()
        assert contacts["pagination"]["itemCount"] > 900
        assert api.get("/Payments", params={"where": 'Reference=="Check 1234"', "page": 1}).status_code == 200
        elapsed = time.monotonic() - t1
    assert started < 5 and elapsed < 10, (started, elapsed)


def test_home_page_lists_created_payments(xero: XeroClient, xero_sandbox: Any) -> None:
    page = requests.get(xero_sandbox.url + "/", timeout=10)
    assert page.status_code == 200 and "Xero sandbox" in page.text and "/_sandbox/health" in page.text
    assert "No payments created" in page.text
    inv = xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"][0]
    body = {
        "Invoice": {"InvoiceID": inv["InvoiceID"]},
        "Account": {"Code": "615"},
        "Date": "2026-01-02",
        "Amount": 1.25,
        "Reference": "HOME<1>",
    }
    assert xero.put("/Payments", body).status_code == 200
    page = requests.get(xero_sandbox.url + "/", timeout=10).text
    assert inv["InvoiceNumber"] in page and "HOME&lt;1&gt;" in page and "1.25" in page
