"""The sync service run in this process (the worker tests run it in a real worker)."""

from dataclasses import replace

import pytest

from billing.models import Invoice, InvoiceLine
from integrations.models import SyncAlert, SyncRun, SyncStatus, SyncTrigger
from integrations.sync.service import SyncAlreadyRunning, sync_request
from organizations.models import Contact, Contract, Organization, Ticket
from tests.integrations.sync.helpers import run_sync
from tests.providers.kaseya_bms.sync.helpers import assert_matches_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def test_full_sync_equals_the_sandbox(bms_integration, bms_sandbox):
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.full_reconcile  # the first sync is full
    compared = assert_matches_sandbox(bms_sandbox.control, bms_integration.data_source)
    assert compared["accounts"] == 25 and compared["invoices"] == 300 and compared["invoice_lines"] > 300
    assert run.counts["organizations"]["created"] == 25
    assert run.requests


SYNCED_MODELS = (Organization, Contact, Contract, Ticket, Invoice, InvoiceLine)
ENTITY_KEYS = {"organizations", "contacts", "contracts", "tickets", "invoices", "invoice lines"}


def _database_state() -> dict[str, list[tuple]]:
    """Every synced row as stored: what it holds (its hash), when it was written, deleted or seen."""
    return {
        model.__name__: list(
            model.objects.order_by("bms_id").values_list("bms_id", "sync_hash", "synced_at", "deleted_at")
        )
        for model in SYNCED_MODELS
    }


def test_hardening_19_rerun_of_an_identical_sync_changes_nothing(bms_integration, bms_sandbox):
    first = run_sync(bms_integration)
    assert first.status == SyncStatus.SUCCEEDED, first.error
    before = _database_state()
    stored = {name: len(rows) for name, rows in before.items()}
    assert stored == {
        "Organization": 25,
        "Contact": first.counts["contacts"]["created"],
        "Contract": first.counts["contracts"]["created"],
        "Ticket": first.counts["tickets"]["created"],
        "Invoice": 300,
        "InvoiceLine": first.counts["invoice lines"]["created"],
    }
    assert all(stored.values())

    again = run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert again.status == SyncStatus.SUCCEEDED, again.error
    # Every entity was listed again and every record found unchanged (lines are not even asked for).
    assert set(again.counts) == ENTITY_KEYS
    for entity, model in (
        ("organizations", "Organization"),
        ("contacts", "Contact"),
        ("contracts", "Contract"),
        ("tickets", "Ticket"),
        ("invoices", "Invoice"),
    ):
        counts = again.counts[entity]
        assert counts == {"created": 0, "updated": 0, "unchanged": stored[model], "deleted": 0, "failed": 0}, entity
    assert again.counts["invoice lines"] == {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0, "failed": 0}
    assert _database_state() == before  # not one row written

    incremental = run_sync(bms_integration)
    assert incremental.status == SyncStatus.SUCCEEDED and not incremental.full_reconcile
    assert {"organizations", "contacts", "contracts", "tickets", "invoices"} <= set(incremental.counts)
    for entity, counts in incremental.counts.items():
        assert counts["created"] == counts["updated"] == counts["deleted"] == counts["failed"] == 0, (entity, counts)
    assert incremental.counts["contracts"]["unchanged"] == stored["Contract"]  # re-listed whole every run
    assert _database_state() == before


def _swap(row_function, first: str, second: str):
    def broken(record):
        row = row_function(record)
        row[first], row[second] = row[second], row[first]
        return row

    return broken


@pytest.mark.parametrize(
    "entity, row_function, first, second",
    [
        ("invoices", "invoice_row", "total", "tax"),
        ("contacts", "contact_row", "first_name", "last_name"),
    ],
)
def test_hardening_16_the_oracle_catches_a_mapping_bug_the_mapping_itself_cannot(
    bms_integration, bms_sandbox, monkeypatch, entity, row_function, first, second
):
    """A bug in the production mapping, on both sides of an oracle that used that mapping."""
    from providers.kaseya_bms import mapping, sync_plan
    from providers.kaseya_bms import types as bms

    broken = _swap(getattr(mapping, row_function), first, second)
    monkeypatch.setattr(mapping, row_function, broken)
    entities = tuple(replace(e, to_row=broken) if e.name == entity else e for e in sync_plan.PLAN.entities)
    monkeypatch.setattr(sync_plan, "PLAN", replace(sync_plan.PLAN, entities=entities))
    assert run_sync(bms_integration).status == SyncStatus.SUCCEEDED

    # Expected rows built with the production mapping agree with the stored ones: blind to the bug.
    parse = {"invoices": bms.Invoice.from_api, "contacts": bms.Contact.from_api}[entity]
    model = {"invoices": Invoice, "contacts": Contact}[entity]
    for record in bms_sandbox.control.records(entity)[:20]:
        row = getattr(mapping, row_function)(parse(record))
        assert model.objects.filter(bms_id=row["bms_id"], **{first: row[first], second: row[second]}).exists()
    # The raw JSON is not.
    with pytest.raises(AssertionError, match=f"{entity} .* ({first}|{second}): stored"):
        assert_matches_sandbox(bms_sandbox.control, bms_integration.data_source)


def test_incremental_sync_after_changes_equals_the_sandbox(bms_integration, bms_sandbox):
    control = bms_sandbox.control
    run_sync(bms_integration)
    control.mutate("account.create", accountName="Newco Industries")
    contact = control.records("contacts")[0]
    control.mutate("contact.update", id=contact["id"], firstName="Renamed")
    open_invoice = next(i for i in control.records("invoices") if i["paymentDue"] > 0)
    control.mutate("invoice.pay", id=open_invoice["id"])
    ticket = control.records("tickets")[0]
    control.mutate("ticket.activity", id=ticket["id"])
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert not run.full_reconcile
    assert run.counts["organizations"]["created"] >= 1
    assert run.counts["invoices"]["updated"] >= 1
    assert_matches_sandbox(control, bms_integration.data_source)


def test_deleted_records_are_marked_on_reconcile_only(bms_integration, bms_sandbox):
    control = bms_sandbox.control
    run_sync(bms_integration)
    invoice = control.records("invoices")[5]
    control.mutate("delete", entity="invoices", id=invoice["id"])
    run_sync(bms_integration)  # incremental: cannot see deletions
    from billing.models import Invoice

    assert Invoice.objects.get(bms_id=invoice["id"]).deleted_at is None
    reconcile = run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert reconcile.counts["invoices"]["deleted"] == 1
    assert Invoice.objects.get(bms_id=invoice["id"]).deleted_at is not None
    assert_matches_sandbox(control, bms_integration.data_source)


def test_a_failed_run_marks_nothing_deleted(bms_integration, bms_sandbox, settings):
    settings.SYNC_MAX_RETRIES = 0
    control = bms_sandbox.control
    run_sync(bms_integration)
    control.mutate("delete", entity="accounts", id=control.records("accounts")[0]["id"])
    control.set_faults(error_rate=1.0, paths=["/v2/servicedesk"])
    run = run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert run.status == SyncStatus.FAILED
    assert "BMS" in run.error
    assert all(counts["deleted"] == 0 for counts in run.counts.values())
    from organizations.models import Organization

    assert Organization.objects.filter(deleted_at__isnull=False).count() == 0
    assert SyncAlert.objects.filter(kind="sync_failed").count() == 1


def test_sync_now_while_one_is_active_starts_nothing(bms_integration):
    sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    with pytest.raises(SyncAlreadyRunning):
        sync_request(integration=bms_integration, trigger=SyncTrigger.SYNC_NOW)
    assert SyncRun.objects.count() == 1


def test_paid_invoices_are_refetched_in_few_requests(bms_integration, bms_sandbox):
    """Invoices that leave the open listings come back by creation-date window, not one by one."""
    control = bms_sandbox.control
    run_sync(bms_integration)
    open_invoices = sorted(
        (i for i in control.records("invoices") if i["paymentDue"] > 0), key=lambda i: i["createdOn"], reverse=True
    )
    recent = open_invoices[:12]
    for invoice in recent:
        control.mutate("invoice.pay", id=invoice["id"])
    control.clear_requests()
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert_matches_sandbox(control, bms_integration.data_source)
    from billing.models import Invoice

    assert Invoice.objects.filter(bms_id__in=[i["id"] for i in recent], balance_due=0).count() == 12
    listed = control.request_counts()["by_endpoint"]["GET /v2/finance/invoices/summary"]
    open_statuses = {i["statusId"] for i in open_invoices}
    assert listed < len(open_statuses) + 1 + 12  # fewer than one request per paid invoice
