"""Opt-in odd shapes of names and e-mail fields, as live BMS data has them (the anomalies
``multi_address_emails`` and ``newline_names`` of ``PUT /_sandbox/anomalies``).

Invariants:
- Off by default; ``/_sandbox/reset`` turns them off again.
- Deterministic: which record gets which shape depends only on its ids, never on a draw.
- Applied where the record is generated (``data.Tenant``), so a listing, a single read,
  the internal records and the invoices' bill-to snapshots agree.

``multi_address_emails``: the default e-mail address of an account's first contact (its
point of contact and invoice recipient, when it has them) holds two addresses, by account id:
  id % 4 == 1: ``ann.lee@acme.com, accounts@acme.com``  (comma)
  id % 4 == 2: ``ann.lee@acme.com; accounts@acme.com``  (semicolon)
  id % 4 == 3: ``ann.lee@acme.com; not an address``     (one valid, one invalid)
  id % 4 == 0: unchanged

``newline_names``: an account's name has a line break instead of its first space, and its
first contact's first name carries one, by account id:
  id % 3 == 1: ``Acme\\nHoldings``, first name ``Ann\\nMarie``
  id % 3 == 2: ``Acme\\r\\nHoldings``, first name ``Ann\\r\\nMarie``
  id % 3 == 0: unchanged
"""

from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {"multi_address_emails": False, "newline_names": False}

_BREAKS = {1: "\n", 2: "\r\n"}


def account_name(anomalies: dict[str, Any], account_id: int, name: str) -> str:
    """The account's name, with a line break in it when ``newline_names`` picks the account."""
    brk = _BREAKS.get(account_id % 3) if anomalies.get("newline_names") else None
    return name.replace(" ", brk, 1) if brk and " " in name else name


def contact(anomalies: dict[str, Any], rec: dict[str, Any], account_id: int, ordinal: int) -> None:
    """Give a generated contact (``rec``, changed in place) the shapes its account is picked for."""
    if ordinal != 0:
        return
    if anomalies.get("multi_address_emails"):
        default = next((e for e in rec.get("emails") or [] if e["isDefault"]), None)
        if default is not None and default["emailAddress"]:
            addr = default["emailAddress"]
            second = f"accounts@{addr.rpartition('@')[2]}"
            form = account_id % 4
            if form == 1:
                default["emailAddress"] = f"{addr}, {second}"
            elif form == 2:
                default["emailAddress"] = f"{addr}; {second}"
            elif form == 3:
                default["emailAddress"] = f"{addr}; not an address"
    brk = _BREAKS.get(account_id % 3) if anomalies.get("newline_names") else None
    if brk:
        rec["firstName"] = f"{rec['firstName']}{brk}Marie"
