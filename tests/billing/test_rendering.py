"""The portal's own rendering opens as a PDF and carries the invoice's data."""

from decimal import Decimal

from billing.rendering import render_invoice_pdf
from tests.billing.factories import InvoiceFactory, InvoiceLineFactory, OrganizationFactory
from tests.billing.pdf_text import embedded_fonts, shown_text
from tests.billing.pdf_text import read as _text


def test_rendered_pdf_contains_the_number_total_lines_and_msp_name(db, settings):
    settings.MSP_NAME = "Acme Managed IT"
    invoice = InvoiceFactory(
        number="INV-20931",
        total=Decimal("12345.67"),
        tax=Decimal("345.67"),
        paid_amount=Decimal("1000"),
        balance_due=Decimal("11345.67"),
        po_number="PO-77",
    )
    InvoiceLineFactory(
        invoice=invoice,
        source=invoice.source,
        name="Firewall subscription",
        quantity=Decimal("3"),
        unit_price=Decimal("4000"),
        total=Decimal("12000"),
    )
    content = render_invoice_pdf(invoice)
    assert content.startswith(b"%PDF-")
    reader, text = _text(content)
    assert len(reader.pages) == 1
    assert "INV-20931" in text
    assert "12,345.67" in text and "11,345.67" in text
    assert "Acme Managed IT" in text
    assert "Firewall subscription" in text and "PO-77" in text
    assert reader.metadata.title == "Invoice INV-20931"


def test_many_lines_flow_onto_more_pages_and_odd_characters_do_not_break_it(db):
    invoice = InvoiceFactory(number="INV-ÜNÏ—“X”", notes="Thanks — see you ☃ soon")
    for n in range(60):
        InvoiceLineFactory(
            invoice=invoice, source=invoice.source, name=f"Line {n} – café 東京", description="Monthly\nservice"
        )
    reader, text = _text(render_invoice_pdf(invoice))
    assert len(reader.pages) > 1
    assert "Line 59" in text and "INV-ÜNÏ—“X”" in text and "see you ☃ soon" in text


def test_an_invoice_without_lines_or_organization_still_renders(db):
    invoice = InvoiceFactory(organization=None, number="INV-EMPTY")
    _reader, text = _text(render_invoice_pdf(invoice))
    assert "INV-EMPTY" in text and "No line items." in text


def test_hardening_4_a_description_of_two_hundred_lines_renders_across_pages(db):
    invoice = InvoiceFactory()
    description = "\n".join(f"Work item {n}: patched and rebooted server {n}" for n in range(200))
    InvoiceLineFactory(invoice=invoice, source=invoice.source, name="Monthly services", description=description)
    InvoiceLineFactory(invoice=invoice, source=invoice.source, name="Long line", description="word " * 3000)
    reader, text = _text(render_invoice_pdf(invoice))
    assert len(reader.pages) >= 5
    assert "Work item 0:" in text and "Work item 199:" in text  # nothing dropped


def test_hardening_4_when_even_the_portal_rendering_fails_the_invoice_shows_without_an_image(
    db, monkeypatch, billing_client, caplog
):
    from django.urls import reverse

    from billing import image_sources

    invoice = InvoiceFactory()

    def broken(self, _invoice):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(image_sources.PortalRenderingSource, "fetch", broken)
    panel = billing_client.get(reverse("billing:invoice-image", args=[invoice.pk]))
    assert panel.status_code == 200 and 'data-testid="no-image"' in panel.content.decode()
    assert billing_client.get(reverse("billing:invoice-pdf", args=[invoice.pk])).status_code == 404
    page = billing_client.get(reverse("billing:invoice", args=[invoice.pk]))
    assert page.status_code == 200 and invoice.number in page.content.decode()
    assert any("portal rendering of invoice" in r.getMessage() for r in caplog.records)


# Names as clients and MSPs write them: the euro sign, Polish, Greek and Japanese.
EURO, POLISH, GREEK, JAPANESE = "€", "Zażółć gęślą jaźń", "Ελληνικά", "日本語の名前"


def test_names_in_any_script_print_as_written_with_the_fonts_embedded(db, settings):
    settings.MSP_NAME = f"{GREEK} {JAPANESE} IT"  # bold in the masthead: Japanese falls back to regular
    organization = OrganizationFactory(name=f"{POLISH} Sp. z o.o.", billing_city="Łódź")
    invoice = InvoiceFactory(organization=organization, number="INV-€-1", notes=f"{JAPANESE}: {GREEK}")
    InvoiceLineFactory(
        invoice=invoice,
        source=invoice.source,
        name=f"{JAPANESE} {EURO} support",  # a row starting in the Japanese font, then two more lines
        description=f"Szkolenie: {POLISH}\nΥποστήριξη: {GREEK}",
    )
    content = render_invoice_pdf(invoice)
    reader, text = _text(content)
    shown = shown_text(content)  # as a viewer draws it: each string in the font it is drawn in
    for written in (
        f"{POLISH} Sp. z o.o.",
        "Łódź",
        "INV-€-1",
        f"{JAPANESE} € support",
        f"Szkolenie: {POLISH}",
        f"Υποστήριξη: {GREEK}",
        f"{JAPANESE}: {GREEK}",
    ):
        assert written in text, written
        assert written in shown, written
    assert "?" not in text and "?" not in shown
    assert reader.metadata.title == "Invoice INV-€-1"
    fonts = embedded_fonts(reader)
    assert fonts == {
        "DejaVuSansBook": ["/FontFile2"],
        "DejaVuSansBold": ["/FontFile2"],
        "NotoSansCJKJP": ["/FontFile2"],
    }


def test_a_document_without_japanese_does_not_carry_the_japanese_font(db):
    invoice = InvoiceFactory(number="INV-LATIN")
    InvoiceLineFactory(invoice=invoice, source=invoice.source, name=f"{POLISH} {GREEK} {EURO}")
    content = render_invoice_pdf(invoice)
    reader, text = _text(content)
    assert f"{POLISH} {GREEK} {EURO}" in text
    assert set(embedded_fonts(reader)) == {"DejaVuSansBook", "DejaVuSansBold"}
    assert len(content) < 60_000  # subsets: the fonts' used glyphs only, not the 1.4 MB of DejaVu


def test_amounts_and_dates_follow_the_tenants_culture(db, settings):
    """de-DE: "12.345,67 €" and 05.03.2026, the euro sign printed as written."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from integrations.locale import forget_tenant_locale

    settings.TIME_ZONE = "Europe/Berlin"
    invoice = InvoiceFactory(
        number="RE-7",
        currency="EUR",
        total=Decimal("12345.67"),
        balance_due=Decimal("12345.67"),
        invoice_date=datetime(2026, 3, 5, 0, 30, tzinfo=ZoneInfo("Europe/Berlin")),
    )
    invoice.source.currency_code, invoice.source.culture_code, invoice.source.date_format = "EUR", "de-DE", ""
    invoice.source.save()
    forget_tenant_locale()
    _reader, text = _text(render_invoice_pdf(invoice))
    assert "12.345,67\u00a0€" in text and "12,345.67" not in text
    assert "05.03.2026" in text
