"""In Chromium, "Download PDF" on the client's receipt and on the staff payment page downloads
the receipt as a PDF that carries the payment."""

from __future__ import annotations

import pytest

from accounts.models import Role
from tests.billing.pdf_text import read
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.payments.conftest import make_organization
from tests.payments.test_receipts import JAPANESE, POLISH, received_payment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _download(page, link, tmp_path) -> tuple[str, bytes]:
    with page.expect_download() as waiting:
        link.click()
    download = waiting.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return download.suggested_filename, target.read_bytes()


def test_a_client_downloads_their_receipt_as_a_pdf(page, screenshot, tmp_path):
    organization = make_organization(f"{POLISH} Sp. z o.o.")
    UserFactory(email="ola@client.example", role=Role.CLIENT_CONTACT, organization=organization)
    payment = received_payment(organization)
    sign_in(page, "ola@client.example", DEFAULT_PASSWORD)
    page.goto(f"/portal/payments/{payment.pk}/receipt/")
    screenshot("receipts-01-client-receipt")

    filename, content = _download(page, page.get_by_role("link", name="Download PDF"), tmp_path)

    assert filename == f"receipt-P-{payment.pk}.pdf" and content.startswith(b"%PDF-")
    _reader, text = read(content)
    assert f"{POLISH} Sp. z o.o." in text and f"{JAPANESE}-7" in text and "Total paid €122.50" in text


def test_staff_download_the_receipt_from_the_payment_page(page, screenshot, tmp_path):
    payment = received_payment(make_organization("Globex Corporation"))
    UserFactory(email="billing@msp.example", role=Role.BILLING_STAFF)
    sign_in(page, "billing@msp.example", DEFAULT_PASSWORD)
    page.goto(f"/payments/{payment.pk}/")
    screenshot("receipts-02-staff-payment")

    filename, content = _download(page, page.get_by_test_id("receipt-pdf"), tmp_path)

    assert filename == f"receipt-P-{payment.pk}.pdf"
    _reader, text = read(content)
    assert "Globex Corporation" in text and f"P-{payment.pk}" in text
