"""Compare what the portal stored with what the sandbox holds, field by field."""

from __future__ import annotations

from collections import Counter

from billing.models import Invoice, InvoiceLine
from integrations.models import DataSource
from organizations.models import Contact, Contract, Organization, Ticket
from providers.kaseya_bms import mapping
from providers.kaseya_bms import types as bms

ENTITIES = [
    ("accounts", Organization, bms.Account.from_api, mapping.organization_row),
    ("contacts", Contact, bms.Contact.from_api, mapping.contact_row),
    ("contracts", Contract, bms.Contract.from_api, mapping.contract_row),
    ("tickets", Ticket, bms.Ticket.from_api, mapping.ticket_row),
    ("invoices", Invoice, bms.Invoice.from_api, mapping.invoice_row),
    ("invoice_lines", InvoiceLine, bms.InvoiceLineItem.from_api, mapping.invoice_line_row),
]
BOOKKEEPING_FIELDS = {"source", "bms_id", "sync_hash", "synced_at", "deleted_at", "last_seen_run", "first_seen_run"}


def model_row_fields(model) -> list[str]:
    """The synced (non-bookkeeping) concrete columns of a model, by attribute name."""
    return [f.attname for f in model._meta.concrete_fields if not f.primary_key and f.name not in BOOKKEEPING_FIELDS]


# Resolved locally (by BMS account id or name), compared separately.
LOCAL_LINKS = {"organization_id", "invoice_id", "bms_invoice_id"}


def stored_rows(model, source: DataSource) -> dict[int, dict]:
    fields = [f for f in model_row_fields(model) if f not in LOCAL_LINKS]
    rows = model.objects.filter(source=source, deleted_at__isnull=True).values("bms_id", *fields)
    by_id = {row["bms_id"]: row for row in rows}
    assert len(by_id) == len(rows), f"duplicate {model.__name__} rows"
    return by_id


def assert_matches_sandbox(control, source: DataSource) -> dict[str, int]:
    """Every record the sandbox holds is stored with every field equal; nothing extra
    is live; no duplicates. Returns the number of records compared per entity."""
    compared = {}
    for entity, model, parse, to_row in ENTITIES:
        expected = {}
        for record in control.records(entity):
            row = to_row(parse(record))
            row.pop("bms_invoice_id", None)
            expected[row["bms_id"]] = row
        stored = stored_rows(model, source)
        missing, extra = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
        assert not missing and not extra, f"{entity}: missing {missing[:10]}, extra {extra[:10]}"
        for bms_id, row in expected.items():
            for field, value in row.items():
                assert stored[bms_id][field] == value, (
                    f"{entity} {bms_id} {field}: {stored[bms_id][field]!r} != {value!r}"
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
