"""Billing staff reorder Invoice Image Data with the mouse; a client sees the image from the
source that order picks (Kaseya BMS, then the portal rendering when BMS is disabled)."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from billing.models import Invoice
from billing.selectors import image_source_config
from billing.services import image_sources_save
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.integrations.sync.helpers import run_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _keys(page) -> list[str]:
    return page.locator("#image-sources li.image-source").evaluate_all("rows => rows.map(r => r.dataset.key)")


def _drag(page, source, target) -> None:
    """A real mouse drag: press on the handle, move in steps above the target row, release."""
    start = source.bounding_box()
    end = target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] - 10, steps=5)
    page.mouse.move(end["x"] + 20, end["y"] + 4, steps=20)
    page.mouse.move(end["x"] + 20, end["y"] + 2, steps=5)
    page.mouse.up()


def test_billing_staff_put_kaseya_bms_first_and_a_client_sees_the_bms_pdf(
    page, screenshot, bms_integration, bms_sandbox, admin_user
):
    assert run_sync(bms_integration).status == "succeeded"
    # An MSP that had put its own rendering first and BMS last.
    image_sources_save(actor=admin_user, order=["portal", "accounting", "psa"], enabled={"portal", "accounting", "psa"})
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)
    invoice = Invoice.objects.exclude(bms_id__in=range(7, 400, 7)).order_by("bms_id").first()
    UserFactory(
        email="pat@client.example", role=Role.CLIENT_CONTACT, organization=invoice.organization, full_name="Pat Client"
    )

    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Billing › Invoice Image Data").click()
    expect(page.get_by_role("heading", name="Invoice Image Data")).to_be_visible()
    assert _keys(page) == ["portal", "accounting", "psa"]
    expect(page.get_by_test_id("status-accounting")).to_have_text("Not configured")
    screenshot("invoice-images-01-before")

    bms_row = page.get_by_test_id("source-psa")
    _drag(page, bms_row.locator(".drag-handle"), page.get_by_test_id("source-portal"))
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    assert _keys(page) == ["psa", "portal", "accounting"]
    screenshot("invoice-images-02-dragged")
    page.get_by_test_id("save-image-sources").click()
    expect(page.get_by_text("Invoice Image Data saved.")).to_be_visible()
    page.reload()
    assert _keys(page) == ["psa", "portal", "accounting"]
    assert [c.key for c in image_source_config()] == ["psa", "portal", "accounting"]
    screenshot("invoice-images-03-saved-and-reloaded", readme="invoice-image-data")

    # The keyboard works too: move Accounting up one place and back.
    page.get_by_role("button", name="Move Xero up").focus()  # the accounting row, named after Xero
    page.keyboard.press("Enter")
    assert _keys(page) == ["psa", "accounting", "portal"]
    page.keyboard.press("Tab")  # to "down"
    page.keyboard.press("Enter")
    assert _keys(page) == ["psa", "portal", "accounting"]
    page.get_by_role("button", name="Sign out").click()

    # The client sees the BMS version (the viewer names its source to staff only).
    sign_in(page, "pat@client.example", DEFAULT_PASSWORD)
    expect(page.get_by_role("heading", name="Invoices")).to_be_visible()
    page.get_by_role("link", name=invoice.number, exact=True).click()
    expect(page.get_by_test_id("invoice-image")).to_have_attribute("data-source", "psa")
    expect(page.get_by_test_id("image-title")).to_have_text(f"Your invoice {invoice.number} as a PDF")
    expect(page.get_by_test_id("invoice-image")).not_to_contain_text("Kaseya BMS")
    expect(page.get_by_test_id("invoice-lines")).to_be_visible()
    screenshot("invoice-images-04-client-sees-bms-pdf")
    with page.expect_download() as download:
        page.get_by_test_id("download-pdf").click()
    assert download.value.suggested_filename == f"Invoice-{invoice.number}.pdf"

    # With Kaseya BMS disabled, the same invoice shows the portal rendering.
    image_sources_save(actor=admin_user, order=["psa", "portal", "accounting"], enabled={"portal", "accounting"})
    page.reload()
    expect(page.get_by_test_id("invoice-image")).to_have_attribute("data-source", "portal")
    expect(page.get_by_test_id("invoice-image")).not_to_contain_text("Portal rendering")
    screenshot("invoice-images-05-client-sees-portal-rendering")
