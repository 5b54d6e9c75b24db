"""Opt-in anomalies of names and e-mail fields (``multi_address_emails``, ``newline_names``)
and the count of the random faults that fired."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Api


def _contact(api: Api, contact_id: int) -> dict[str, Any]:
    r = api.get(f"/v2/crm/contacts/summary/{contact_id}")
    assert r.status_code == 200, r.text
    return r.json()


def _default_email(contact: dict[str, Any]) -> str:
    return next(e["emailAddress"] for e in contact["emails"] if e["isDefault"])


def test_off_by_default_and_after_reset(api: Api, bms_sandbox: Any) -> None:
    assert bms_sandbox.control._call("GET", "anomalies") == {}  # only the modes switched on are listed
    plain = _contact(api, 1)
    assert "," not in _default_email(plain) and ";" not in _default_email(plain)
    assert "\n" not in plain["firstName"] and "\n" not in plain["accountName"]

    bms_sandbox.control.set_anomalies(multi_address_emails=True, newline_names=True)
    bms_sandbox.control.reset()
    api.login()  # a reset forgets the tokens
    assert _contact(api, 1) == plain


def test_multi_address_emails_in_each_form(api: Api, bms_sandbox: Any) -> None:
    accounts = len(bms_sandbox.control.records("accounts"))
    before = {cid: _default_email(_contact(api, cid)) for cid in (1, 2, 3, 4, 1 + accounts)}
    bms_sandbox.control.set_anomalies(multi_address_emails=True)
    after = {cid: _default_email(_contact(api, cid)) for cid in before}

    # The first contact of account 1, 2, 3 (contacts 1..3), by account id % 4.
    domain = before[1].rpartition("@")[2]
    assert after[1] == f"{before[1]}, accounts@{domain}"
    assert after[2] == f"{before[2]}; accounts@{before[2].rpartition('@')[2]}"
    assert after[3] == f"{before[3]}; not an address"
    assert after[4] == before[4]  # account 4: unchanged
    assert after[1 + accounts] == before[1 + accounts]  # the second contact of account 1: unchanged
    # Every view agrees: the listing, the internal records and the invoice's bill-to snapshot.
    listed = api.get("/v2/crm/contacts/summary", PageSize=3).json()["result"]
    assert [_default_email(c) for c in listed] == [after[1], after[2], after[3]]
    [record] = [c for c in bms_sandbox.control.records("contacts") if c["id"] == 1]
    assert _default_email(record) == after[1]
    invoice = api.get("/v2/finance/invoices/1").json()["result"]  # invoice 1 belongs to account 1
    assert invoice["emailAddress"] == after[1]


def test_newline_names(api: Api, bms_sandbox: Any) -> None:
    before = {cid: _contact(api, cid) for cid in (1, 2, 3)}
    bms_sandbox.control.set_anomalies(newline_names=True)
    after = {cid: _contact(api, cid) for cid in (1, 2, 3)}

    assert after[1]["accountName"] == before[1]["accountName"].replace(" ", "\n", 1)
    assert after[1]["firstName"] == before[1]["firstName"] + "\nMarie"
    assert after[2]["accountName"] == before[2]["accountName"].replace(" ", "\r\n", 1)
    assert after[2]["firstName"] == before[2]["firstName"] + "\r\nMarie"
    assert after[3] == before[3]  # account 3: unchanged
    account = api.get("/v2/crm/accounts/summary/1").json()
    assert account["accountName"] == after[1]["accountName"]
    # A name filter sees the name with its line break.
    found = api.get("/v2/crm/accounts/summary", **{"Filter.AccountName": after[1]["accountName"]}).json()["result"]
    assert [a["id"] for a in found] == [1]


def test_unknown_anomaly_is_refused(bms_sandbox: Any) -> None:
    with pytest.raises(RuntimeError, match="unknown anomaly keys"):
        bms_sandbox.control.set_anomalies(no_such_shape=True)


def test_faults_fired_counts_each_fault_by_endpoint(api: Api, bms_sandbox: Any) -> None:
    assert bms_sandbox.control.faults_fired() == {}
    bms_sandbox.control.set_faults(error_rate=1.0, paths=["/v2/system/priorities"])
    api.get("/v2/system/priorities/lookup")
    api.get("/v2/system/priorities/lookup")
    api.get("/v2/system/queues/lookup")  # not on the fault's paths
    assert bms_sandbox.control.faults_fired() == {"error GET /v2/system/priorities/lookup": 2}
    bms_sandbox.control.clear_requests()
    assert bms_sandbox.control.faults_fired() == {}
