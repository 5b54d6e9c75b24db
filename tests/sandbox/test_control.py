"""Fault injection, the hourly limit, mutations, the clock and the request log."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from .conftest import Api

PRIO = "/v2/system/priorities/lookup"


def _codes(api: Api, n: int) -> list[int | str]:
    out: list[int | str] = []
    for _ in range(n):
        try:
            r = api.get(PRIO)
            out.append(r.status_code if r.status_code != 200 or r.json()["success"] else "false")
        except requests.ConnectionError:
            out.append("drop")
    return out


def test_error_rate_and_status(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(error_rate=1.0, error_status=502)
    r = api.get(PRIO)
    assert r.status_code == 502 and r.json()["success"] is False
    bms_sandbox.control.set_faults(error_rate=0.5, fault_seed=7)
    first = _codes(api, 40)
    assert set(first) == {200, 503}
    bms_sandbox.control.set_faults(error_rate=0.5, fault_seed=7)
    assert _codes(api, 40) == first  # reproducible from fault_seed


def test_rate_limit_fault(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=7)
    r = api.get(PRIO)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"


def test_success_false_fault(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(success_false_rate=1.0)
    r = api.get(PRIO)
    assert r.status_code == 200 and r.json()["success"] is False and r.json()["error"]["code"]


def test_drop_fault(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(drop_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        api.get(PRIO)
    bms_sandbox.control.set_faults()
    assert api.get(PRIO).status_code == 200  # the session reconnects


def test_drop_after_processing_creates_ticket(api: Api, bms_sandbox: Any) -> None:
    before = len(bms_sandbox.control.records("tickets"))
    bms_sandbox.control.set_faults(drop_after_rate=1.0, paths=["/v2/servicedesk/tickets"])
    with pytest.raises(requests.ConnectionError):
        api.post(
            "/v2/servicedesk/tickets",
            {
                "Title": "t",
                "Details": "d",
                "AccountId": 1,
                "LocationId": 1,
                "StatusId": 1,
                "PriorityId": 1,
                "TypeId": 1,
                "SourceId": 1,
                "OpenDate": "2026-01-01T00:00:00",
            },
        )
    assert len(bms_sandbox.control.records("tickets")) == before + 1


def test_fault_paths_and_auth_excluded(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(error_rate=1.0, paths=["/v2/finance"])
    assert api.get(PRIO).status_code == 200
    assert api.get("/v2/finance/invoices/summary").status_code == 503
    bms_sandbox.control.set_faults(error_rate=1.0)
    api.login()  # authenticate is excluded from random faults by default
    bms_sandbox.control.set_faults(error_rate=1.0, include_auth=True)
    r = api.session.post(api.url + "/v2/security/authenticate", data={"GrantType": "password"})
    assert r.status_code == 503


def test_latency(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(latency_ms=150)
    t = time.monotonic()
    api.get(PRIO)
    assert time.monotonic() - t >= 0.15


def test_hourly_limit(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_faults(hourly_limit=3)
    assert [api.get(PRIO).status_code for _ in range(4)] == [200, 200, 200, 429]
    r = api.get(PRIO)
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= 3600
    assert api.get("/v2/system/queues/lookup").status_code == 200  # counted per endpoint
    bms_sandbox.control.set_clock_offset(3600)  # next hour: the window rolls over
    api.login()  # (the 1 h token expired too)
    assert api.get(PRIO).status_code == 200


def test_request_log(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.clear_requests()
    api.get("/v2/finance/invoices/1")
    api.get("/v2/finance/invoices/2")
    api.get("/v2/crm/accounts/summary", PageSize=5)
    log = bms_sandbox.control.request_counts()
    assert log["total"] == 3
    assert log["by_endpoint"] == {"GET /v2/finance/invoices/{id}": 2, "GET /v2/crm/accounts/summary": 1}


def test_mutations_bump_modified_on(api: Api, bms_sandbox: Any) -> None:
    ctl = bms_sandbox.control
    since = api.get("/v2/security/userinfo").json()["result"]["timeStamp"]
    acc = ctl.mutate("account.update", id=5, accountName="Renamed Dental")["record"]
    assert acc["modifiedOn"] >= since
    changed = api.get("/v2/crm/accounts/summary", **{"Filter.ModifiedOnFrom": since}).json()["result"]
    assert [a["id"] for a in changed] == [5] and changed[0]["accountName"] == "Renamed Dental"
    contacts = api.get("/v2/crm/contacts/summary", **{"Filter.AccountId": 5}).json()["result"]
    assert all(c["accountName"] == "Renamed Dental" for c in contacts)
    ctl.mutate("contact.update", id=contacts[0]["id"], email="new@renamed.example", canRecieveInvoices=True)
    changed_c = api.get("/v2/crm/contacts/summary", **{"Filter.ModifiedOnFrom": since}).json()["result"]
    assert [c["id"] for c in changed_c] == [contacts[0]["id"]]
    assert changed_c[0]["emails"][0]["emailAddress"] == "new@renamed.example"

    created = ctl.mutate("account.create", accountName="Brand New LLC")
    new_id = created["record"]["id"]
    assert created["record"]["locations"][0]["isMain"] and created["contacts"][0]["canRecieveInvoices"]
    assert api.get(f"/v2/crm/accounts/summary/{new_id}").json()["accountName"] == "Brand New LLC"
    assert api.get("/v2/crm/accounts/summary").json()["totalRecords"] == 26
    new_contact = ctl.mutate("contact.create", accountId=new_id, firstName="Ann", lastName="Lee")["record"]
    assert api.get("/v2/crm/contacts/summary", **{"Filter.AccountId": new_id}).json()["totalRecords"] == 2

    ctl.mutate("delete", entity="contact", id=new_contact["id"])
    assert api.get(f"/v2/crm/contacts/summary/{new_contact['id']}").status_code == 404
    ctl.mutate("delete", entity="accounts", id=1)
    assert api.get("/v2/crm/accounts/summary").json()["totalRecords"] == 25
    assert 1 not in [a["id"] for a in api.get("/v2/crm/accounts/summary", PageSize=100).json()["result"]]

    ctl.reset()
    assert api.get("/v2/crm/accounts/summary").status_code == 401  # reset also drops tokens
    api.login()
    assert api.get("/v2/crm/accounts/summary").json()["totalRecords"] == 25
    assert api.get("/v2/crm/accounts/summary/5").json()["accountName"] != "Renamed Dental"


def test_invoice_create_and_pay(api: Api, bms_sandbox: Any) -> None:
    ctl = bms_sandbox.control
    since = api.get("/v2/security/userinfo").json()["result"]["timeStamp"]
    inv = ctl.mutate("invoice.create", accountId=3, lines=[{"name": "Support", "qty": 2, "unitPrice": 150}])["record"]
    assert inv["grandTotal"] == 300.0 and inv["paymentDue"] == 300.0 and inv["statusName"] == "Sent"
    new = api.get("/v2/finance/invoices/summary", **{"Filter.CreatedFrom": since}).json()["result"]
    assert [i["id"] for i in new] == [inv["id"]]
    part = ctl.mutate("invoice.pay", id=inv["id"], amount=100)["record"]
    assert part["paidAmount"] == 100 and part["paymentDue"] == 200 and part["statusName"] == "Partially Paid"
    full = ctl.mutate("invoice.pay", id=inv["id"])["record"]
    assert full["paymentDue"] == 0 and full["statusName"] == "Paid"
    got = api.get(f"/v2/finance/invoices/{inv['id']}").json()["result"]
    assert got["statusName"] == "Paid" and got["modifiedOn"] >= since
    lines = api.post("/v2/finance/invoices/details", {"Filter": {"ListInvoiceIds": str(inv["id"])}}).json()
    assert [li["name"] for li in lines["result"]] == ["Support"]


def test_ticket_mutations(api: Api, bms_sandbox: Any) -> None:
    ctl = bms_sandbox.control
    since = api.get("/v2/security/userinfo").json()["result"]["timeStamp"]
    ctl.mutate("ticket.activity", id=17)
    created = ctl.mutate("ticket.create", accountId=2, title="From control")["record"]
    res = api.post("/v2/servicedesk/tickets/search", {"Filter": {"LastActivityUpdateFrom": since}}).json()
    assert sorted(t["id"] for t in res["result"]) == [17, created["id"]]


def test_clock_offset(api: Api, bms_sandbox: Any) -> None:
    before = api.get("/v2/security/userinfo").json()["result"]["timeStamp"]
    bms_sandbox.control.set_clock_offset(-86400)
    after = api.get("/v2/security/userinfo").json()["result"]["timeStamp"]
    assert after < before


def test_records_dump(bms_sandbox: Any) -> None:
    lines = bms_sandbox.control.records("invoice_lines")
    assert len(lines) == 25 * 12 * 3 and all("invoiceId" in li for li in lines)
    contracts = bms_sandbox.control.records("contracts")
    assert len(contracts) == 50 and "accountId" in contracts[0]


def test_the_tenants_locale_is_what_userinfo_and_accounts_say(api: Api, bms_sandbox: Any) -> None:
    def said() -> tuple:
        info = api.get("/v2/security/userinfo").json()["result"]
        account = api.get("/v2/crm/accounts/summary", PageSize=1, PageNumber=1).json()["result"][0]
        return info["currencyCode"], info["cultureCode"], info["dateFormat"], account["currencyName"]

    assert said() == ("USD", "en-US", "MM/dd/yyyy", "USD")
    bms_sandbox.control.set_locale(currency_code="EUR", culture_code="de-DE", date_format="dd.MM.yyyy")
    assert said() == ("EUR", "de-DE", "dd.MM.yyyy", "EUR")
    bms_sandbox.control.set_locale(currency_code="JPY")  # the others keep their value
    assert said() == ("JPY", "de-DE", "dd.MM.yyyy", "JPY")
    bms_sandbox.control.reset()
    api.login()  # a reset forgets the tokens
    assert said() == ("USD", "en-US", "MM/dd/yyyy", "USD")
