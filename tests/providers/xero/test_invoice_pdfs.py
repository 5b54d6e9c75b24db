"""Invoice PDFs from Xero: the accounting row of Invoice Image Data serves the invoice as Xero renders
it, found by its number (Xero's id remembered), fetched with Accept: application/pdf, cached like
BMS images, and named "Xero"."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from billing.image_sources import SOURCES
from billing.images import invoice_image_cache_clear, resolve_invoice_image
from billing.models import Invoice
from billing.services import image_sources_save
from providers.xero.models import XeroInvoice
from tests.integrations.sync.helpers import run_sync

# Transactional: the sync engine reads pages in a thread of its own (its own connection).
pytestmark = pytest.mark.django_db(transaction=True)

SEARCH = "GET /api.xro/2.0/Invoices"
ONE = "GET /api.xro/2.0/Invoices/{InvoiceID}"


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Cached invoice images go to a fresh directory per test."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def synced_bms(bms_integration):
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    return bms_integration


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _in_xero(installation, invoices) -> Invoice:
    with installation.client() as client:
        for invoice in invoices:
            if client.list_invoices(1, invoice_numbers=[invoice.number]).items:
                return invoice
    raise AssertionError("no synced invoice is in Xero")


def test_accounting_first_serves_the_xero_pdf(synced_bms, xero_installation, xero_sandbox, admin_user):
    image_sources_save(actor=admin_user, order=["accounting", "psa", "portal"], enabled={"accounting", "psa", "portal"})
    invoice = _in_xero(xero_installation, Invoice.objects.order_by("bms_id"))
    xero_sandbox.control.clear_requests()
    image = resolve_invoice_image(invoice)
    assert (image.source_key, image.source_name) == ("accounting", "Xero")
    assert f"TAX INVOICE {invoice.number}" in _text(image.pdf)  # Xero's rendering, not BMS's or the portal's
    counts = xero_sandbox.control.requests()["by_endpoint"]
    assert counts == {SEARCH: 1, ONE: 1}
    assert XeroInvoice.objects.filter(invoice_number=invoice.number).exists()
    # Cached like BMS images: the next view asks nobody.
    again = resolve_invoice_image(invoice)
    assert again.from_cache and again.source_name == "Xero"
    assert xero_sandbox.control.requests()["total"] == 2
    # The cache cleared (the invoice changed): Xero's id is remembered, only the PDF is fetched.
    invoice_image_cache_clear(invoice)
    xero_sandbox.control.clear_requests()
    assert resolve_invoice_image(invoice).source_name == "Xero"
    assert xero_sandbox.control.requests()["by_endpoint"] == {ONE: 1}


def test_the_invoice_page_names_xero(synced_bms, xero_installation, admin_user):
    assert SOURCES["accounting"].status().name == "Xero"
    assert SOURCES["accounting"].status().available


def test_an_invoice_xero_does_not_have_falls_through(synced_bms, xero_installation, admin_user):
    image_sources_save(actor=admin_user, order=["accounting", "portal", "psa"], enabled={"accounting", "portal"})
    invoice = Invoice.objects.order_by("bms_id").first()
    Invoice.objects.filter(pk=invoice.pk).update(number="NOT-IN-XERO-1")
    invoice.refresh_from_db()
    image = resolve_invoice_image(invoice)
    assert image.source_key == "portal"
    assert [(s.key, s.name, s.reason) for s in image.skipped] == [("accounting", "Xero", "No image for this invoice.")]


def test_xero_down_falls_through_with_the_reason(synced_bms, xero_installation, xero_sandbox, admin_user):
    image_sources_save(actor=admin_user, order=["accounting", "portal", "psa"], enabled={"accounting", "portal"})
    invoice = Invoice.objects.order_by("bms_id").first()
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=503)
    image = resolve_invoice_image(invoice)
    assert image.source_key == "portal"
    assert image.skipped[0].name == "Xero" and "503" in image.skipped[0].reason


def test_a_forgotten_xero_id_is_looked_up_again(synced_bms, xero_installation, xero_sandbox, admin_user):
    image_sources_save(actor=admin_user, order=["accounting", "portal", "psa"], enabled={"accounting", "portal"})
    invoice = _in_xero(xero_installation, Invoice.objects.order_by("bms_id"))
    resolve_invoice_image(invoice)
    XeroInvoice.objects.filter(invoice_number=invoice.number).update(bms_id="00000000-0000-4000-8000-000000000000")
    invoice_image_cache_clear(invoice)
    image = resolve_invoice_image(invoice)
    assert image.source_name == "Xero" and f"TAX INVOICE {invoice.number}" in _text(image.pdf)
