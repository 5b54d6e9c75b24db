"""Opt-in data anomalies: shapes live BMS tenants send that break naive clients.

Invariants:
- Off by default and after ``POST /_sandbox/reset``. ``PUT /_sandbox/anomalies`` replaces the
  whole set (modes not given are off), ``GET`` shows it; unknown modes or options are refused.
- Deterministic: a mode affects the records its spec selects by ``ids`` (explicit external
  ids) or by ``rate`` and ``seed`` (a hash of seed and id, so the same records every time).
- Applied to what leaves the sandbox, never to its data: answers of the API (listings, a
  record by id, bulk line items) and the control API's ``records`` dump show the anomaly;
  filters, mutations and totals work on the data as generated.
- Costs nothing while off (one truth test per answer).

A record mode is ``(spec, entity, record) -> None`` and edits one record (a plain dict, as
it is about to be sent) in place; a page mode edits a listing's list of items. Each block
below belongs to the change that needs it: add modes in a block of your own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

# Values JSON cannot carry as numbers of Python's (1e400 overflows a float) go out as a
# marker string, replaced by the literal in the encoded body.
_RAW = "@@sandbox-raw:"
_RAW_IN_BODY = re.compile(rb'"@@sandbox-raw:([^"@]*)@@"')


def raw_number(literal: str) -> str:
    """A JSON number sent exactly as written (``1e400``)."""
    return f"{_RAW}{literal}@@"


def encode_raw_numbers(body: bytes) -> bytes:
    return _RAW_IN_BODY.sub(rb"\1", body) if b"@@sandbox-raw:" in body else body


def chosen(spec: dict[str, Any], record_id: Any) -> bool:
    """Whether ``spec`` selects the record of this external id."""
    if not isinstance(record_id, int):
        return False
    if record_id in spec.get("_ids", ()):
        return True
    rate = float(spec.get("rate") or 0)
    if rate <= 0:
        return False
    digest = hashlib.blake2b(f"{spec.get('seed', 0)}:{record_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


# ---------------------------------------------------------------------- sync shapes (issue 10, items 5-7)
# long_descriptions   {"ids"|"rate"+"seed", "lines": 200}: the lines of the selected invoices
#                     carry descriptions of that many lines.
# extreme_dates       {"ids"|"rate"+"seed", "entity": "invoices", "fields": ["dueDate"],
#                     "value": "alternate"}: .NET's minimum (0001-01-01T00:00:00) on even ids and
#                     .NET's maximum (9999-12-31T23:59:59.9999999) on odd ids; or "dotnet_min",
#                     "year_9999", or any literal string.
# non_finite_amounts  {"ids"|"rate"+"seed", "entity": "invoices", "fields": ["grandTotal"],
#                     "value": "alternate"}: NaN, Infinity and 1e400 by id % 3; or one of
#                     "NaN", "Infinity", "-Infinity", "1e400" (sent as JSON literals).
# oversized_pages     {"extra": 5, "paths": ["/v2/finance/invoices"]}: listings answer `extra`
#                     more items than the page size asked (the page's items repeated); paths:
#                     prefixes of the listings affected (default: all).

DOTNET_MIN = "0001-01-01T00:00:00"
DOTNET_MAX = "9999-12-31T23:59:59.9999999"
_DATES = {"dotnet_min": DOTNET_MIN, "year_9999": DOTNET_MAX}
_AMOUNTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf"), "1e400": raw_number("1e400")}
_AMOUNT_CYCLE = ("NaN", "Infinity", "1e400")


def _long_descriptions(spec: dict[str, Any], entity: str, record: dict[str, Any]) -> None:
    if entity != "invoice_lines" or not chosen(spec, record.get("invoiceId")):
        return
    count = int(spec.get("lines", 200))
    name = record.get("name") or "Service"
    record["description"] = "\n".join(f"{name}: detail line {n} of {count}" for n in range(1, count + 1))


def _extreme_dates(spec: dict[str, Any], entity: str, record: dict[str, Any]) -> None:
    if entity != spec.get("entity", "invoices") or not chosen(spec, record.get("id")):
        return
    value = spec.get("value", "alternate")
    if value == "alternate":
        value = DOTNET_MIN if record["id"] % 2 == 0 else DOTNET_MAX
    value = _DATES.get(value, value)
    for name in spec.get("fields", ["dueDate"]):
        record[name] = value


def _non_finite_amounts(spec: dict[str, Any], entity: str, record: dict[str, Any]) -> None:
    if entity != spec.get("entity", "invoices") or not chosen(spec, record.get("id")):
        return
    value = spec.get("value", "alternate")
    if value == "alternate":
        value = _AMOUNT_CYCLE[record["id"] % 3]
    for name in spec.get("fields", ["grandTotal"]):
        record[name] = _AMOUNTS[value]


def _oversized_pages(spec: dict[str, Any], path: str, items: list[Any], page_size: int) -> list[Any]:
    prefixes = spec.get("paths")
    if not items or (prefixes and not any(path.lower().startswith(p.lower()) for p in prefixes)):
        return items
    wanted = page_size + int(spec.get("extra", 5))
    return [items[n % len(items)] for n in range(wanted)]


def _check_sync_shapes(name: str, spec: dict[str, Any]) -> None:
    allowed = {
        "long_descriptions": {"lines"},
        "extreme_dates": {"entity", "fields", "value"},
        "non_finite_amounts": {"entity", "fields", "value"},
        "oversized_pages": {"extra", "paths"},
    }[name]
    if name != "oversized_pages":
        allowed = allowed | {"ids", "rate", "seed"}
    unknown = set(spec) - allowed
    if unknown:
        raise ValueError(f"unknown options of {name}: {sorted(unknown)}")
    if name == "non_finite_amounts" and spec.get("value", "alternate") not in {"alternate", *_AMOUNTS}:
        raise ValueError(f"non_finite_amounts value must be one of {['alternate', *_AMOUNTS]}")


RecordMode = Callable[[dict[str, Any], str, dict[str, Any]], None]
PageMode = Callable[[dict[str, Any], str, list[Any], int], list[Any]]

RECORD_MODES: dict[str, RecordMode] = {
    "long_descriptions": _long_descriptions,
    "extreme_dates": _extreme_dates,
    "non_finite_amounts": _non_finite_amounts,
}
PAGE_MODES: dict[str, PageMode] = {"oversized_pages": _oversized_pages}
CHECKS: dict[str, Callable[[str, dict[str, Any]], None]] = dict.fromkeys(
    ("long_descriptions", "extreme_dates", "non_finite_amounts", "oversized_pages"), _check_sync_shapes
)
# ---------------------------------------------------------------------- end of sync shapes


def configure(cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The anomaly set ``cfg`` asks for (``{mode: spec}``; a null or false spec is off), checked."""
    if not isinstance(cfg, dict):
        raise ValueError("the anomalies must be an object: {mode: options}")
    unknown = set(cfg) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown anomalies: {sorted(unknown)}; known: {sorted(CHECKS)}")
    modes: dict[str, dict[str, Any]] = {}
    for name, spec in cfg.items():
        if spec in (None, False):
            continue
        spec = {} if spec is True else spec
        if not isinstance(spec, dict):
            raise ValueError(f"{name}: options must be an object")
        CHECKS[name](name, spec)
        modes[name] = {**spec, "_ids": frozenset(int(i) for i in spec.get("ids") or ())}
    return modes


def shown(modes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The anomaly set as the control API shows it."""
    return {name: {k: v for k, v in spec.items() if not k.startswith("_")} for name, spec in modes.items()}


def apply_to_records(modes: dict[str, dict[str, Any]], entity: str, records: list[dict[str, Any]]) -> None:
    """Apply the record modes to ``records`` of ``entity`` (and an invoice's ``lineItems``)."""
    active = [(RECORD_MODES[name], spec) for name, spec in modes.items() if name in RECORD_MODES]
    if not active:
        return
    for record in records:
        if not isinstance(record, dict):
            continue
        for mode, spec in active:
            mode(spec, entity, record)
        if entity == "invoices":
            for line in record.get("lineItems") or []:
                if isinstance(line, dict):
                    for mode, spec in active:
                        mode(spec, "invoice_lines", line)


# Route template -> entity of the records it answers with.
ROUTE_ENTITIES = {
    "/v2/crm/accounts/summary": "accounts",
    "/v2/crm/accounts/summary/{id}": "accounts",
    "/v2/crm/contacts/summary": "contacts",
    "/v2/crm/contacts/summary/{id}": "contacts",
    "/v2/crm/contacts/search": "contacts",
    "/v2/finance/contracts/summary": "contracts",
    "/v2/finance/invoices/summary": "invoices",
    "/v2/finance/invoices/{id}": "invoices",
    "/v2/finance/invoices/details": "invoice_lines",
    "/v2/servicedesk/tickets/search": "tickets",
    "/v2/servicedesk/tickets/{ticketId}": "tickets",
}


def apply_to_answer(modes: dict[str, dict[str, Any]], template: str, req: Any, body: bytes) -> bytes:
    """An API answer's body with the anomalies applied (unchanged for routes without records)."""
    entity = ROUTE_ENTITIES.get(template)
    if entity is None:
        return body
    payload = json.loads(body)
    envelope = isinstance(payload, dict) and "result" in payload
    result = payload["result"] if envelope else payload
    records = result if isinstance(result, list) else [result]
    apply_to_records(modes, entity, records)
    page_size = req.paging_value("pagesize") if isinstance(result, list) else None
    if page_size:
        for name, spec in modes.items():
            if name in PAGE_MODES:
                result = PAGE_MODES[name](spec, req.path, result, page_size)
    if envelope:
        payload["result"] = result
    else:
        payload = result
    return encode_raw_numbers(json.dumps(payload, separators=(",", ":")).encode())
