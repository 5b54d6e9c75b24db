"""Invoices with If-Modified-Since: every invoice whose UpdatedDateUTC is at or after the header,
however long ago it was created; unchanged ones never; the same answer page by page."""

from __future__ import annotations

import time
from typing import Any

from xero_sandbox.data import DAY, UPDATE_LAG, Org, OrgOptions, parse_ms_date

from .conftest import XeroClient


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))


def _ids(answer: dict[str, Any]) -> list[str]:
    return [inv["InvoiceID"] for inv in answer["Invoices"]]


def _oldest_authorised(xero: XeroClient, now: float) -> dict[str, Any]:
    """An invoice open for payment whose last change is far older than the window generated
    invoices change in (so only an edit can make it show up)."""
    open_ones = xero.get("/Invoices", params={"Statuses": "AUTHORISED"}).json()["Invoices"]
    old = min(open_ones, key=lambda inv: parse_ms_date(inv["UpdatedDateUTC"]))
    assert parse_ms_date(old["UpdatedDateUTC"]) < now - UPDATE_LAG - 30 * DAY
    return old


def test_an_old_invoice_edited_now_is_listed_and_unchanged_ones_are_not(
    xero: XeroClient, xero_sandbox: Any, frozen: float
) -> None:
    old = _oldest_authorised(xero, frozen)
    since = {"If-Modified-Since": _iso(frozen + 30)}
    assert xero.get("/Invoices", headers=since).json()["Invoices"] == []  # nothing changed yet

    xero_sandbox.control.advance_clock(60)
    xero_sandbox.control.mutate("invoice.update", invoice=old["InvoiceID"], Reference="PO-EDITED")
    changed = xero.get("/Invoices", headers=since).json()["Invoices"]
    assert [(inv["InvoiceID"], inv["Reference"]) for inv in changed] == [(old["InvoiceID"], "PO-EDITED")]
    assert parse_ms_date(changed[0]["UpdatedDateUTC"]) == frozen + 60

    # A payment is a change too; an earlier header than the edit misses nothing, a later one lists nothing.
    another = xero.get("/Invoices", params={"Statuses": "AUTHORISED", "page": 1, "pageSize": 5}).json()["Invoices"][1]
    assert parse_ms_date(another["UpdatedDateUTC"]) < frozen - UPDATE_LAG
    xero_sandbox.control.advance_clock(60)
    xero_sandbox.control.mutate("payment.create", invoice=another["InvoiceID"], amount=1.0, reference="r")
    listed = xero.get("/Invoices", headers=since, params={"where": 'Type=="ACCREC"', "summaryOnly": "true"}).json()
    assert sorted(_ids(listed)) == sorted([old["InvoiceID"], another["InvoiceID"]])
    assert (
        xero.get("/Invoices", headers={"If-Modified-Since": _iso(frozen + 90)}).json()["Invoices"][0]["InvoiceID"]
        == (another["InvoiceID"])
    )
    assert xero.get("/Invoices", headers={"If-Modified-Since": _iso(frozen + 200)}).json()["Invoices"] == []


def test_paging_an_if_modified_since_listing_gives_the_unpaged_answer(
    xero: XeroClient, xero_sandbox: Any, frozen: float
) -> None:
    everything = xero.get("/Invoices").json()["Invoices"]
    stamps = sorted(parse_ms_date(inv["UpdatedDateUTC"]) for inv in everything)
    cut = stamps[len(stamps) * 4 // 5]  # the newest fifth, plus the edited old invoices below
    old = [inv for inv in everything if inv["Status"] == "AUTHORISED" and parse_ms_date(inv["UpdatedDateUTC"]) < cut]
    for inv in old[:3]:
        xero_sandbox.control.mutate("invoice.update", invoice=inv["InvoiceID"], Reference="PO-EDITED")
    header = {"If-Modified-Since": _iso(cut)}
    unpaged = _ids(xero.get("/Invoices", headers=header).json())
    expected = {inv["InvoiceID"] for inv in everything if parse_ms_date(inv["UpdatedDateUTC"]) >= cut}
    assert set(unpaged) == expected | {inv["InvoiceID"] for inv in old[:3]}
    assert len(unpaged) == len(set(unpaged))

    paged: list[str] = []
    page = 1
    while True:
        answer = xero.get("/Invoices", headers=header, params={"page": page, "pageSize": 7}).json()
        assert answer["pagination"]["itemCount"] == len(unpaged)
        paged += _ids(answer)
        if page >= answer["pagination"]["pageCount"]:
            break
        page += 1
    assert paged == unpaged  # same order, nothing twice, nothing missed


def test_a_generated_invoice_changes_within_the_window_if_modified_since_searches() -> None:
    """The invariant the window rests on: a generated invoice's UpdatedDateUTC is at most UPDATE_LAG
    after its creation (edits are in the overlay and looked at separately)."""
    from bms_sandbox.data import Options as BmsOptions

    org = Org(OrgOptions(BmsOptions(accounts=40, invoices_per_account=30), "Demo MSP"))
    lags = [org.base_updated(i) - org.created(i) for i in org.invoice_ids()]
    assert len(lags) > 900 and min(lags) >= 0 and max(lags) <= UPDATE_LAG
