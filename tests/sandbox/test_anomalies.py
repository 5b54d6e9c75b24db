"""Hardening 7 (the sync shapes): the sandbox's opt-in anomaly modes, as the API serves them.

Off by default; switched by PUT /_sandbox/anomalies; deterministic (explicit ids, or a rate
and a seed); applied to what is served, never to the data (filters and totals unchanged)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from .conftest import Api

INVOICES = "/v2/finance/invoices/summary"
DETAILS = "/v2/finance/invoices/details"


def _anomalies_url(bms_sandbox: Any) -> str:
    return f"{bms_sandbox.url}/_sandbox/anomalies"


def test_hardening_7_anomalies_are_off_by_default_and_after_a_reset(api: Api, bms_sandbox: Any) -> None:
    assert requests.get(_anomalies_url(bms_sandbox), timeout=10).json() == {}
    plain = api.get(INVOICES, PageSize=10).json()["result"]
    bms_sandbox.control.set_anomalies(non_finite_amounts={"ids": [1, 2, 3]}, extreme_dates={"ids": [4]})
    assert api.get(INVOICES, PageSize=10).json()["result"] != plain
    bms_sandbox.control.reset()
    api.login()  # a reset forgets the tokens too
    assert requests.get(_anomalies_url(bms_sandbox), timeout=10).json() == {}
    assert api.get(INVOICES, PageSize=10).json()["result"] == plain


def test_hardening_7_extreme_dates_are_the_dotnet_minimum_and_maximum(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_anomalies(extreme_dates={"ids": [2, 3], "fields": ["dueDate", "invoiceDate"]})
    served = {i["id"]: i for i in api.get(INVOICES, PageSize=5).json()["result"]}
    assert served[2]["dueDate"] == served[2]["invoiceDate"] == "0001-01-01T00:00:00"
    assert served[3]["dueDate"] == "9999-12-31T23:59:59.9999999"
    assert served[1]["dueDate"].startswith("20")  # others as generated
    # By id too, and in the control API's dump; the data itself is untouched (filters work).
    assert api.get("/v2/finance/invoices/2").json()["result"]["dueDate"] == "0001-01-01T00:00:00"
    assert next(r for r in bms_sandbox.control.records("invoices") if r["id"] == 3)["dueDate"].startswith("9999")
    bms_sandbox.control.set_anomalies(extreme_dates={"ids": [2], "value": "year_9999"})
    assert api.get("/v2/finance/invoices/2").json()["result"]["dueDate"] == "9999-12-31T23:59:59.9999999"


def test_hardening_7_non_finite_amounts_are_json_literals(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_anomalies(non_finite_amounts={"ids": [3, 4, 5]})
    text = api.get(INVOICES, PageSize=5).text
    assert '"grandTotal":NaN' in text and '"grandTotal":Infinity' in text and '"grandTotal":1e400' in text
    served = {i["id"]: i["grandTotal"] for i in json.loads(text)["result"]}
    assert served[3] != served[3]  # NaN
    assert served[4] == served[5] == float("inf")  # 1e400 overflows a float
    assert isinstance(served[1], float) and served[1] < 1e9
    bms_sandbox.control.set_anomalies(
        non_finite_amounts={"ids": [1], "entity": "invoice_lines", "fields": ["totalPrice"], "value": "-Infinity"}
    )
    line = api.post(DETAILS, {"PageSize": 1, "PageNumber": 1, "Filter": {}}).json()["result"][0]
    assert line["id"] == 1 and line["totalPrice"] == float("-inf")


def test_hardening_7_long_descriptions(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_anomalies(long_descriptions={"ids": [2]})
    lines = api.post(DETAILS, {"PageSize": 20, "PageNumber": 1, "Filter": {"ListInvoiceIds": [1, 2]}}).json()
    by_invoice = {}
    for line in lines["result"]:
        by_invoice.setdefault(line["invoiceId"], []).append(line["description"] or "")
    assert all(d.count("\n") == 199 for d in by_invoice[2])
    assert all(d.count("\n") < 5 for d in by_invoice[1])
    invoice = api.get("/v2/finance/invoices/2").json()["result"]
    assert all(item["description"].count("\n") == 199 for item in invoice["lineItems"])


def test_hardening_7_a_rate_and_a_seed_pick_the_same_records_every_time(api: Api, bms_sandbox: Any) -> None:
    def picked() -> set[int]:
        served = api.get(INVOICES, PageSize=100).json()["result"]
        return {i["id"] for i in served if i["dueDate"].startswith(("0001", "9999"))}

    bms_sandbox.control.set_anomalies(extreme_dates={"rate": 0.1, "seed": 7})
    first = picked()
    assert 2 <= len(first) <= 25
    bms_sandbox.control.set_anomalies()
    assert picked() == set()
    bms_sandbox.control.set_anomalies(extreme_dates={"rate": 0.1, "seed": 7})
    assert picked() == first
    bms_sandbox.control.set_anomalies(extreme_dates={"rate": 0.1, "seed": 8})
    assert picked() != first


def test_hardening_7_oversized_pages_hold_more_items_than_asked(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.set_anomalies(oversized_pages={"extra": 3, "paths": [INVOICES]})
    assert len(api.get(INVOICES, PageSize=10, PageNumber=2).json()["result"]) == 13
    assert len(api.get("/v2/crm/accounts/summary", PageSize=10).json()["result"]) == 10  # not in paths
    bms_sandbox.control.set_anomalies(oversized_pages={})
    assert len(api.post(DETAILS, {"PageSize": 4, "PageNumber": 1, "Filter": {}}).json()["result"]) == 9


@pytest.mark.parametrize(
    "body",
    [
        {"no_such_mode": {}},
        {"extreme_dates": {"ids": [1], "colour": "red"}},
        {"non_finite_amounts": {"value": "42"}},
        {"long_descriptions": [1, 2]},
    ],
)
def test_unknown_anomalies_or_options_are_refused(bms_sandbox: Any, body: dict) -> None:
    r = requests.put(_anomalies_url(bms_sandbox), json=body, timeout=10)
    assert r.status_code == 400, r.text
    assert requests.get(_anomalies_url(bms_sandbox), timeout=10).json() == {}


def test_the_request_log_has_the_page_numbers_asked(api: Api, bms_sandbox: Any) -> None:
    bms_sandbox.control.clear_requests()
    for number in (3, 1, 2):
        api.get(INVOICES, PageSize=10, PageNumber=number)
    api.post(DETAILS, {"PageSize": 10, "PageNumber": 4, "Filter": {}})
    api.get("/v2/system/priorities/lookup")
    pages = bms_sandbox.control.request_pages()
    assert pages == {f"GET {INVOICES}": [3, 1, 2], f"POST {DETAILS}": [4]}
    bms_sandbox.control.clear_requests()
    assert bms_sandbox.control.request_pages() == {}
