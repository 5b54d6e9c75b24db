"""Compare what the portal stored with what the sandbox holds, key field by key field.

The expected values are read from the sandbox's raw JSON records (its control API) by the
small readers below, written for this test and sharing nothing with the production client
types or mapping: a mapping bug cannot pass by being on both sides of the comparison
(hardening 16)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from billing.models import Invoice, InvoiceLine
from integrations.models import DataSource
from organizations.models import Contact, Contract, Organization, Ticket


def _when(value: str | None) -> datetime | None:
    """The sandbox writes UTC instants without a zone designator."""
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def _amount(value: float | None, places: str = "0.01") -> Decimal:
    return Decimal(repr(value or 0.0)).quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _default(items: list[dict] | None, key: str) -> str:
    items = items or []
    chosen = next((i for i in items if i.get("isDefault")), items[0] if items else None)
    return (chosen or {}).get(key) or ""


def _account(raw: dict) -> dict:
    locations = raw.get("locations") or []
    main = next((loc for loc in locations if loc["isMain"]), locations[0] if locations else None)
    billing = next((a for loc in locations for a in loc.get("addresses") or [] if a["isBilling"]), {})
    return {
        "name": raw["accountName"],
        "code": raw["accountCode"],
        "account_type": raw["accountType"],
        "is_active": raw["isActive"],
        "website": raw.get("website") or "",
        "main_location_bms_id": main["id"] if main else None,
        "billing_address1": billing.get("address1") or "",
        "billing_city": billing.get("city") or "",
        "billing_zip": billing.get("zipCode") or "",
        "billing_email": billing.get("emailAddress") or "",
        "bms_created_on": _when(raw["createdOn"]),
        "bms_modified_on": _when(raw["modifiedOn"]),
    }


def _contact(raw: dict) -> dict:
    return {
        "bms_account_id": raw["accountId"],
        "first_name": raw["firstName"],
        "last_name": raw["lastName"],
        "job_title": raw.get("jobTitle") or "",
        "email": _default(raw.get("emails"), "emailAddress").lower(),
        "phone": _default(raw.get("phones"), "phone"),
        "is_poc": raw["isPoc"],
        "receives_invoices": raw["canRecieveInvoices"],
        "is_active": raw["isActive"],
        "bms_modified_on": _when(raw["modifiedOn"]),
    }


def _contract(raw: dict) -> dict:
    price = raw.get("contractBillingPrice")
    return {
        "name": raw["contractName"],
        "number": raw["contractNumber"],
        "account_name": raw["accountName"],
        "contract_type": raw["contractType"],
        "status": raw["status"],
        "billing_cycle": raw["billingCycle"],
        "billing_price": None if price is None else _amount(price),
        "start_date": _when(raw.get("startDate")),
        "end_date": _when(raw.get("endDate")),
    }


def _ticket(raw: dict) -> dict:
    return {
        "bms_account_id": raw["accountId"],
        "number": raw["ticketNumber"],
        "title": raw["title"],
        "status": raw["statusName"],
        "priority": raw["priorityName"],
        "status_bms_id": raw["statusId"],
        "priority_bms_id": raw["priorityId"],
        "queue_bms_id": raw.get("queueId"),
        "open_date": _when(raw["openDate"]),
        "completed_date": _when(raw.get("completedDate")),
        "last_activity_update": _when(raw["lastActivityUpdate"]),
    }


def _invoice(raw: dict) -> dict:
    names = [raw.get("contactFirstName"), raw.get("contactLastName")]
    return {
        "bms_account_id": raw["accountId"],
        "number": raw["invoiceNumber"],
        "status_bms_id": raw["statusId"],
        "status": raw["statusName"],
        "invoice_date": _when(raw["invoiceDate"]),
        "due_date": _when(raw["dueDate"]),
        "total": _amount(raw["grandTotal"]),
        "tax": _amount(raw["totalTax"]),
        "paid_amount": _amount(raw["paidAmount"]),
        "balance_due": _amount(raw["paymentDue"]),
        "po_number": raw.get("pONumber") or "",
        "notes": raw.get("notes") or "",
        "bill_to": {"name": " ".join(n for n in names if n), "email": raw.get("emailAddress") or ""},
        "bms_created_on": _when(raw["createdOn"]),
    }


def _line(raw: dict) -> dict:
    return {
        "invoice__bms_id": raw["invoiceId"],
        "name": raw["name"],
        "description": raw.get("description") or "",
        "line_type": raw["typeName"],
        "quantity": _amount(raw["qty"], "0.0001"),
        "unit_price": _amount(raw["unitPrice"], "0.0001"),
        "total": _amount(raw["totalPrice"]),
        "is_taxable": raw["isTaxable"],
    }


# sandbox entity, model, raw record -> expected key fields
ENTITIES: list[tuple[str, Any, Callable[[dict], dict]]] = [
    ("accounts", Organization, _account),
    ("contacts", Contact, _contact),
    ("contracts", Contract, _contract),
    ("tickets", Ticket, _ticket),
    ("invoices", Invoice, _invoice),
    ("invoice_lines", InvoiceLine, _line),
]


def stored_rows(model, source: DataSource, fields: list[str]) -> dict[int, dict]:
    rows = model.objects.filter(source=source, deleted_at__isnull=True).values("bms_id", *fields)
    by_id = {row["bms_id"]: row for row in rows}
    assert len(by_id) == len(rows), f"duplicate {model.__name__} rows"
    return by_id


def assert_matches_sandbox(control, source: DataSource) -> dict[str, int]:
    """Every record the sandbox holds is stored with its key fields equal to the raw JSON's;
    nothing extra is live; no duplicates; links point to the right organization. Returns the
    number of records compared per entity."""
    compared = {}
    for entity, model, expected_of in ENTITIES:
        expected = {record["id"]: expected_of(record) for record in control.records(entity)}
        fields = list(next(iter(expected.values()))) if expected else []
        stored = stored_rows(model, source, fields)
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        assert not missing and not extra, f"{entity}: missing {missing[:10]}, extra {extra[:10]}"
        for bms_id, row in expected.items():
            for field, value in row.items():
                assert stored[bms_id][field] == value, (
                    f"{entity} {bms_id} {field}: stored {stored[bms_id][field]!r}, BMS has {value!r}"
                )
        compared[entity] = len(expected)
    _assert_links(source)
    return compared


def _assert_links(source: DataSource) -> None:
    orgs = dict(Organization.objects.filter(source=source).values_list("pk", "bms_id"))
    for model in (Contact, Ticket, Invoice):
        for org_pk, account_id in model.objects.filter(source=source, deleted_at__isnull=True).values_list(
            "organization_id", "bms_account_id"
        ):
            if account_id is not None:
                assert orgs.get(org_pk) == account_id, f"{model.__name__} linked to the wrong organization"
    dupes = Counter(InvoiceLine.objects.filter(source=source).values_list("bms_id", flat=True))
    assert not [k for k, n in dupes.items() if n > 1]
