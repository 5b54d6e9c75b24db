"""Per-tenant rate limits (minute, day, concurrent) on a frozen clock, faults, the request log."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from .conftest import XeroClient


def test_limit_headers_count_down(xero: XeroClient) -> None:
    first = xero.get("/Organisation")
    second = xero.get("/Organisation")
    for h in ("X-MinLimit-Remaining", "X-DayLimit-Remaining", "X-AppMinLimit-Remaining"):
        assert int(first.headers[h]) - int(second.headers[h]) == 1
    assert first.headers["X-MinLimit-Remaining"] == "59" and first.headers["X-DayLimit-Remaining"] == "4999"


def test_minute_limit(xero: XeroClient, xero_sandbox: Any, frozen: float) -> None:
    xero_sandbox.control.set_limits(minute=3)
    assert [xero.get("/Organisation").status_code for _ in range(3)] == [200, 200, 200]
    r = xero.get("/Organisation")
    assert r.status_code == 429 and r.headers["X-Rate-Limit-Problem"] == "minute"
    assert r.headers["Retry-After"] == "60" and r.headers["X-MinLimit-Remaining"] == "0"
    xero_sandbox.control.advance_clock(30)
    assert xero.get("/Organisation").headers["Retry-After"] == "30"  # refused calls do not count
    xero_sandbox.control.advance_clock(30)  # the oldest calls leave the rolling minute
    ok = xero.get("/Organisation")
    assert ok.status_code == 200 and ok.headers["X-MinLimit-Remaining"] == "2"
    # limits are per tenant: the other organisation still has its minute
    other = xero_sandbox.control.health()["tenants"][1]["tenantId"]
    tok = xero_sandbox.control.grant(tenant_ids=[other])["access_token"]
    assert XeroClient(xero_sandbox.url, other, tok).get("/Organisation").status_code == 200


def test_day_limit(xero: XeroClient, xero_sandbox: Any, frozen: float) -> None:
    xero_sandbox.control.set_limits(day=4, minute=100)
    xero_sandbox.control.set_faults(token_lifetime_seconds=3 * 86400)  # one token for the whole day
    xero = XeroClient(xero.url, xero.tenant_id, xero_sandbox.control.grant()["access_token"])
    for _ in range(4):
        assert xero.get("/Organisation").status_code == 200
        xero_sandbox.control.advance_clock(3600)
    r = xero.get("/Organisation")
    assert r.status_code == 429 and r.headers["X-Rate-Limit-Problem"] == "day"
    assert int(r.headers["Retry-After"]) == 86400 - 4 * 3600
    xero_sandbox.control.advance_clock(86400 - 4 * 3600)  # the first call of the day ages out
    assert xero.get("/Organisation").status_code == 200
    assert xero.get("/Organisation").status_code == 429


def test_concurrent_limit(xero: XeroClient, xero_sandbox: Any) -> None:
    xero_sandbox.control.set_limits(concurrent=2)
    xero_sandbox.control.set_faults(latency_ms=400)
    results: list[tuple[int, str | None]] = []

    def call() -> None:
        r = requests.get(
            f"{xero.url}/api.xro/2.0/Organisation",
            headers={**xero.session.headers, "xero-tenant-id": xero.tenant_id or ""},
            timeout=10,
        )
        results.append((r.status_code, r.headers.get("X-Rate-Limit-Problem")))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results, key=str).count((200, None)) == 2
    assert results.count((429, "concurrent")) == 3
    xero_sandbox.control.set_faults()
    assert xero.get("/Organisation").status_code == 200  # slots were released


def test_app_minute_limit(xero: XeroClient, xero_sandbox: Any, frozen: float) -> None:
    xero_sandbox.control.set_limits(app_minute=1)
    assert xero.get("/Organisation").status_code == 200
    r = xero.get("/Organisation")
    assert r.status_code == 429 and r.headers["X-Rate-Limit-Problem"] == "appminute"
    with pytest.raises(RuntimeError):
        xero_sandbox.control.set_limits(hourly=3)


def test_error_and_429_storm_faults(xero: XeroClient, xero_sandbox: Any) -> None:
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=502)
    r = xero.get("/Organisation")
    assert r.status_code == 502 and r.json()["Title"] == "Internal Server Error"
    xero_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=7, rate_limit_problem="day")
    r = xero.get("/Organisation")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and r.headers["X-Rate-Limit-Problem"] == "day"
    # reproducible from fault_seed
    codes = []
    for _ in range(2):
        xero_sandbox.control.set_faults(error_rate=0.5, fault_seed=3)
        codes.append([xero.get("/Organisation").status_code for _ in range(20)])
    assert codes[0] == codes[1] and set(codes[0]) == {200, 503}
    # identity endpoints are spared unless include_auth
    xero_sandbox.control.set_faults(error_rate=1.0)
    assert xero_sandbox.control.grant()["access_token"]
    ok = XeroClient(xero.url).request("POST", "/connect/token", data={"grant_type": "x"}, auth=("a", "b"))
    assert ok.status_code == 400
    xero_sandbox.control.set_faults(error_rate=1.0, include_auth=True)
    assert (
        XeroClient(xero.url).request("POST", "/connect/token", data={"grant_type": "x"}, auth=("a", "b")).status_code
        == 503
    )
    xero_sandbox.control.set_faults(error_rate=1.0, paths=["/api.xro/2.0/Invoices"])
    assert xero.get("/Organisation").status_code == 200 and xero.get("/Invoices", params={"page": 1}).status_code == 503


def test_dropped_connection_and_lost_answer(xero: XeroClient, xero_sandbox: Any) -> None:
    xero_sandbox.control.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        xero.get("/Organisation")
    xero_sandbox.control.set_faults()
    inv = next(i for i in xero_sandbox_invoices(xero) if i["AmountPaid"] == 0)
    xero_sandbox.control.set_faults(lost_answer_rate=1.0)
    pay = {
        "Invoice": {"InvoiceID": inv["InvoiceID"]},
        "Account": {"Code": "615"},
        "Date": "2026-01-01",
        "Amount": 3,
        "Reference": "LOST",
    }
    with pytest.raises(requests.ConnectionError):
        xero.put("/Payments", pay)
    xero_sandbox.control.set_faults()
    # the request was applied: a retry must look before paying again
    assert [p["Reference"] for p in xero_sandbox.control.payments()] == ["LOST"]
    assert xero.get(f"/Invoices/{inv['InvoiceID']}").json()["Invoices"][0]["AmountPaid"] == 3
    log = xero_sandbox.control.requests()
    assert [e["status"] for e in log["recent"] if e["endpoint"] == "PUT /api.xro/2.0/Payments"] == ["lost"]


def xero_sandbox_invoices(xero: XeroClient) -> list[dict[str, Any]]:
    return xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"]


def test_latency(xero: XeroClient, xero_sandbox: Any) -> None:
    xero_sandbox.control.set_faults(latency_ms=200)
    t = time.monotonic()
    xero.get("/Organisation")
    assert time.monotonic() - t >= 0.2


def test_token_expiry_faults(xero: XeroClient, xero_sandbox: Any) -> None:
    assert xero.get("/Organisation").status_code == 200
    assert xero_sandbox.control.expire_tokens() >= 1
    assert xero.get("/Organisation").json()["Detail"].startswith("TokenExpired")
    xero_sandbox.control.set_faults(token_max_requests=2)
    tok = xero_sandbox.control.grant()["access_token"]
    api = XeroClient(xero.url, xero.tenant_id, tok)
    assert [api.get("/Organisation").status_code for _ in range(3)] == [200, 200, 401]
    xero_sandbox.control.set_faults(token_lifetime_seconds=60)
    assert xero_sandbox.control.grant()["expires_in"] == 60


def test_request_log(xero: XeroClient, xero_sandbox: Any) -> None:
    xero_sandbox.control.clear_requests()
    inv = xero.get("/Invoices", params={"page": 1}).json()["Invoices"][0]
    xero.get(f"/Invoices/{inv['InvoiceID']}")
    xero.get("/Invoices/nope")
    log = xero_sandbox.control.requests()
    assert log["by_endpoint"] == {"GET /api.xro/2.0/Invoices": 1, "GET /api.xro/2.0/Invoices/{InvoiceID}": 2}
    assert [e["status"] for e in log["recent"]] == [200, 200, 404]
    assert all(e["tenant"] == xero.tenant_id for e in log["recent"])
    assert "Bearer" not in str(log)
