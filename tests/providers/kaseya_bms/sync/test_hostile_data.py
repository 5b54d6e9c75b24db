"""Hardening 5 and 7: BMS data that used to break pages or syncs, served over HTTP by the
sandbox's anomaly modes (bms_sandbox/anomalies.py) and synced as any other data.

- Dates out of range (.NET's 0001-01-01 "no date", year 9999 "never") are stored empty with a
  warning; every page showing the invoice renders in time zones west and east of UTC.
- Amounts that are not numbers (NaN, Infinity) or too large (1e400) make their record a
  per-record error: counted and explained on the run page, the rest synced, and the next
  run does not fail on it either.
- A page larger than asked stops the run with the reason (the client refuses it).
"""

import logging

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import Invoice, InvoiceLine
from integrations.models import SyncStatus, SyncTrigger
from tests.factories import UserFactory
from tests.integrations.sync.helpers import run_sync
from tests.providers.kaseya_bms.sync.helpers import assert_matches_sandbox

pytestmark = pytest.mark.django_db(transaction=True)

# Invoices the sandbox serves without a PDF (bms_sandbox.constants.INVOICE_WITHOUT_PDF_EVERY = 7):
# their image is the portal's own rendering, which shows the dates too.
NO_BMS_PDF = [14, 21]
WEST, EAST = "America/Los_Angeles", "Pacific/Kiritimati"  # UTC-8 (-7), UTC+14


def _staff() -> Client:
    web = Client()
    web.force_login(UserFactory(role="billing_staff"))
    return web


def _client_of(invoice: Invoice) -> Client:
    web = Client()
    web.force_login(UserFactory(role="client_contact", organization=invoice.organization))
    return web


@pytest.mark.parametrize("time_zone", [WEST, EAST])
def test_hardening_5_out_of_range_dates_are_stored_empty_and_every_page_renders(
    bms_integration, bms_sandbox, settings, caplog, monkeypatch, time_zone
):
    from providers.kaseya_bms import types

    monkeypatch.setattr(types, "_dates_warned", {}, raising=False)  # warned once an hour: not by earlier tests
    # 14: DueDate 0001-01-01T00:00:00; 21: DueDate 9999-12-31T23:59:59.9999999 (also as InvoiceDate).
    bms_sandbox.control.set_anomalies(extreme_dates={"ids": NO_BMS_PDF, "fields": ["dueDate", "invoiceDate"]})
    with caplog.at_level(logging.WARNING, logger="providers.kaseya_bms.types"):
        run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error

    settings.TIME_ZONE = time_zone
    staff = _staff()
    assert staff.get(reverse("billing:invoices")).status_code == 200
    for bms_id in NO_BMS_PDF:
        invoice = Invoice.objects.get(bms_id=bms_id)
        client = _client_of(invoice)
        for web, namespace in ((staff, "billing"), (client, "client")):
            assert web.get(reverse(f"{namespace}:invoice", args=[invoice.pk])).status_code == 200
            pdf = web.get(reverse(f"{namespace}:invoice-pdf", args=[invoice.pk]))
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            assert pdf["X-Invoice-Image-Source"] == "portal"
        assert client.get(reverse("client:invoices")).status_code == 200

    for bms_id in NO_BMS_PDF:
        invoice = Invoice.objects.get(bms_id=bms_id)
        assert invoice.due_date is None and invoice.invoice_date is None
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "0001-01-01T00:00:00" in warned and "9999-12-31T23:59:59.9999999" in warned
    # The rest is synced as usual.
    assert Invoice.objects.filter(due_date__isnull=False).count() == Invoice.objects.count() - 2


def test_hardening_5_non_finite_and_huge_amounts_fail_their_record_only(bms_integration, bms_sandbox):
    control = bms_sandbox.control
    # 3: GrandTotal NaN, 4: Infinity, 5: 1e400 (a JSON number no float holds).
    control.set_anomalies(non_finite_amounts={"ids": [3, 4, 5]})
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.counts["invoices"]["failed"] == 3
    assert run.counts["invoices"]["created"] == 297
    assert not Invoice.objects.filter(bms_id__in=[3, 4, 5]).exists()
    assert not InvoiceLine.objects.filter(invoice__bms_id__in=[3, 4, 5]).exists()
    reasons = {r["id"]: r["reason"] for r in run.checkpoint["rejected"]}
    assert reasons == {
        3: "GrandTotal is NaN: not a number",
        4: "GrandTotal is Infinity: not a number",
        5: "GrandTotal is 1E+400: too large to store",
    }

    admin = Client()
    admin.force_login(UserFactory(role="master_admin"))
    page = admin.get(reverse("integrations:sync-run", args=[run.pk])).content.decode()
    assert 'data-testid="failed-invoices">3<' in page
    assert "Records not synced" in page and "Invoices 5: GrandTotal is 1E+400: too large to store" in page

    # The next runs (a full reconcile re-lists every invoice) do not fail on them either.
    again = run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert again.status == SyncStatus.SUCCEEDED, again.error
    assert again.counts["invoices"]["failed"] == 3 and again.counts["invoices"]["created"] == 0
    assert run_sync(bms_integration).status == SyncStatus.SUCCEEDED

    # Corrected in BMS, they are synced by the next run.
    control.set_anomalies()
    fixed = run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert fixed.counts["invoices"]["failed"] == 0 and fixed.counts["invoices"]["created"] == 3
    assert_matches_sandbox(control, bms_integration.data_source)


def test_hardening_5_a_line_that_cannot_be_stored_fails_its_invoice(bms_integration, bms_sandbox):
    control = bms_sandbox.control
    line = control.records("invoice_lines")[10]
    control.set_anomalies(
        non_finite_amounts={"ids": [line["id"]], "entity": "invoice_lines", "fields": ["totalPrice"], "value": "NaN"}
    )
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.SUCCEEDED, run.error
    assert run.counts["invoices"]["failed"] == 1
    assert run.checkpoint["rejected"] == [
        {
            "entity": "invoices",
            "id": line["invoiceId"],
            "reason": f"invoice lines {line['id']}: TotalPrice is NaN: not a number",
        }
    ]
    # Its invoice is not stored without it: an invoice's lines are stored whole or not at all.
    assert not Invoice.objects.filter(bms_id=line["invoiceId"]).exists()
    assert Invoice.objects.count() == 299


def test_hardening_7_a_page_larger_than_asked_stops_the_run_with_the_reason(bms_integration, bms_sandbox, settings):
    settings.SYNC_MAX_RETRIES = 0
    bms_sandbox.control.set_anomalies(oversized_pages={"extra": 3, "paths": ["/v2/finance/contracts"]})
    run = run_sync(bms_integration)
    assert run.status == SyncStatus.FAILED
    assert "records for a page of" in run.error and "refused" in run.error
    assert run.counts["organizations"]["created"] == 25  # what came before is kept
