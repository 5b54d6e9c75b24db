"""Which source serves an invoice's image: order, fallbacks, failures, timeouts and the cache,
against the real BMS sandbox with invoices synced from it."""

import io
import logging
import time

import pytest
from pypdf import PdfReader

from billing.images import resolve_invoice_image
from billing.models import Invoice
from billing.services import image_sources_save
from integrations import registry
from integrations.base import Capability, Category
from providers.kaseya_bms.installation import PDF_TIMEOUT as BMS_TIMEOUT
from tests.integrations.sync.helpers import run_sync

pytestmark = pytest.mark.django_db(transaction=True)

ATTACHMENTS = "/v2/system/attachments"
DOWNLOAD = "GET /v2/system/attachments/{moduleId}/{objectId}/{attachmentId}/download"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.fixture
def synced(bms_integration, bms_sandbox):
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    return bms_integration


def _order(admin_user, *order, disabled=()):
    image_sources_save(actor=admin_user, order=list(order), enabled=set(order) - set(disabled))


def _with_pdf():
    return Invoice.objects.exclude(bms_id__in=[i for i in range(7, 400, 7)]).order_by("bms_id").first()


def _without_pdf():
    return Invoice.objects.get(bms_id=7)


def test_bms_first_and_present_serves_the_bms_pdf(synced, admin_user):
    _order(admin_user, "psa", "accounting", "portal")
    invoice = _with_pdf()
    image = resolve_invoice_image(invoice)
    assert (image.source_key, image.source_name) == ("psa", "Kaseya BMS")
    text = pdf_text(image.pdf)
    assert f"INVOICE {invoice.number}" in text
    assert f"Grand total: {invoice.total:.2f}" in text  # the sandbox's PDF, not the portal's
    assert not image.skipped


def test_bms_first_but_no_attachment_falls_back_to_the_portal_rendering(synced, admin_user):
    _order(admin_user, "psa", "accounting", "portal")
    invoice = _without_pdf()
    image = resolve_invoice_image(invoice)
    assert image.source_key == "portal"
    assert [(s.key, s.reason) for s in image.skipped] == [
        ("psa", "No image for this invoice."),
        ("accounting", "Not configured"),  # Xero is offered but not set up
    ]
    assert invoice.number in pdf_text(image.pdf)


def test_bms_failing_is_logged_and_skipped(synced, admin_user, bms_sandbox, caplog):
    _order(admin_user, "psa", "portal", "accounting")
    bms_sandbox.control.set_faults(error_rate=1.0, paths=[ATTACHMENTS])
    with caplog.at_level(logging.WARNING, logger="billing.images"):
        image = resolve_invoice_image(_with_pdf())
    assert image.source_key == "portal"
    assert "unavailable" in image.skipped[0].reason.lower()
    assert any("psa failed" in r.getMessage() for r in caplog.records)


def test_bms_timing_out_never_hangs_and_is_skipped_for_a_while(synced, admin_user, bms_sandbox):
    _order(admin_user, "psa", "portal", "accounting")
    bms_sandbox.control.set_faults(latency_ms=(BMS_TIMEOUT[1] + 3) * 1000, paths=[ATTACHMENTS])
    invoices = list(Invoice.objects.order_by("bms_id")[:3])
    started = time.monotonic()
    image = resolve_invoice_image(invoices[0])
    assert time.monotonic() - started < BMS_TIMEOUT[1] + 3
    assert image.source_key == "portal"
    assert "did not answer in time" in image.skipped[0].reason
    # The next viewers do not wait again: BMS is skipped during its cool-down.
    started = time.monotonic()
    assert resolve_invoice_image(invoices[1]).source_key == "portal"
    assert time.monotonic() - started < 1.5


def test_accounting_not_integrated_is_skipped(synced, admin_user):
    _order(admin_user, "accounting", "psa", "portal")
    image = resolve_invoice_image(_with_pdf())
    assert image.source_key == "psa"
    assert [(s.key, s.reason) for s in image.skipped] == [("accounting", "Not configured")]


def test_an_integrated_accounting_package_serves_first(synced, admin_user, monkeypatch):
    class FakeBooks:
        """An accounting installation offering invoice PDFs."""

        name = "FakeBooks"

        def invoice_pdf(self, invoice, *, max_bytes):
            from billing.rendering import render_invoice_pdf

            return render_invoice_pdf(invoice)

    real = registry.installation_offering
    lookups = []

    def offering(capability, *, category=None, connected=False):
        if capability == Capability.INVOICE_PDFS and category == Category.ACCOUNTING:
            lookups.append(category)
            return FakeBooks()
        return real(capability, category=category, connected=connected)

    monkeypatch.setattr(registry, "installation_offering", offering)
    _order(admin_user, "accounting", "psa", "portal")
    image = resolve_invoice_image(_with_pdf())
    assert (image.source_key, image.source_name) == ("accounting", "FakeBooks")
    # Its name and availability come from one lookup; fetching the PDF makes the other.
    assert len(lookups) == 2


def test_only_the_portal_rendering(synced, admin_user, bms_sandbox):
    _order(admin_user, "portal", "psa", "accounting", disabled=("psa", "accounting"))
    bms_sandbox.control.clear_requests()
    image = resolve_invoice_image(_with_pdf())
    assert image.source_key == "portal" and not image.last_resort
    assert bms_sandbox.control.request_counts()["total"] == 0  # BMS not even asked


def test_portal_rendering_is_the_last_resort_even_when_unchecked(synced, admin_user):
    _order(admin_user, "psa", "accounting", "portal", disabled=("portal",))
    image = resolve_invoice_image(_without_pdf())
    assert image.source_key == "portal" and image.last_resort
    _order(admin_user, "psa", "accounting", "portal", disabled=("psa", "accounting", "portal"))
    assert resolve_invoice_image(_with_pdf()).source_key == "portal"


def test_the_bms_pdf_is_cached_and_refreshed_when_a_sync_changes_the_invoice(synced, admin_user, bms_sandbox):
    _order(admin_user, "psa", "accounting", "portal")
    control = bms_sandbox.control
    invoice = Invoice.objects.filter(balance_due__gt=0).exclude(bms_id__in=range(7, 400, 7)).order_by("bms_id").first()
    control.clear_requests()
    first = resolve_invoice_image(invoice)
    assert first.source_key == "psa" and not first.from_cache
    assert f"Balance due: {invoice.balance_due:.2f}" in pdf_text(first.pdf)
    again = resolve_invoice_image(Invoice.objects.get(pk=invoice.pk))
    assert again.from_cache and again.pdf == first.pdf
    assert control.request_counts()["by_endpoint"].get(DOWNLOAD) == 1

    # BMS records a payment; the next sync changes the invoice (and its sync hash).
    old_hash = invoice.sync_hash
    control.mutate("invoice.pay", id=invoice.bms_id)
    run_sync(synced)
    invoice.refresh_from_db()
    assert invoice.sync_hash != old_hash and invoice.balance_due == 0
    fresh = resolve_invoice_image(invoice)
    assert fresh.source_key == "psa" and not fresh.from_cache
    assert control.request_counts()["by_endpoint"].get(DOWNLOAD) == 2
    assert "Balance due: 0.00" in pdf_text(fresh.pdf)
    assert fresh.pdf != first.pdf
    # Only the current version is kept.
    from django.core.files.storage import default_storage

    _dirs, files = default_storage.listdir(f"invoice-images/psa/{invoice.pk}")
    assert files == [f"{invoice.sync_hash}.pdf"]


def test_the_staff_panel_names_the_source_the_client_panel_serves_it(synced, admin_user, admin_client, client_of):
    _order(admin_user, "psa", "accounting", "portal")
    invoice = _with_pdf()
    _user, web = client_of(invoice.organization)
    panel = web.get(f"/portal/invoices/{invoice.pk}/image/")
    assert panel.status_code == 200
    assert 'data-source="psa"' in panel.content.decode()
    assert "Kaseya BMS" not in panel.content.decode()  # the source is named to staff only
    staff_panel = admin_client.get(f"/billing/invoices/{invoice.pk}/image/").content.decode()
    assert 'data-source="psa"' in staff_panel and "Image from <strong>Kaseya BMS</strong>" in staff_panel
    pdf = web.get(f"/portal/invoices/{invoice.pk}/pdf/")
    assert pdf["Content-Type"] == "application/pdf" and pdf["X-Invoice-Image-Source"] == "psa"
    assert pdf["Content-Disposition"].startswith("inline;")
    download = web.get(f"/portal/invoices/{invoice.pk}/download/")
    assert download["Content-Disposition"] == f'attachment; filename="Invoice-{invoice.number}.pdf"'
    assert invoice.number in pdf_text(download.content)

    no_pdf = _without_pdf()
    staff_panel = admin_client.get(f"/billing/invoices/{no_pdf.pk}/image/").content.decode()
    assert 'data-source="portal"' in staff_panel and "No image for this invoice." in staff_panel
