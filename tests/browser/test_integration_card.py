"""A Master Admin sets up Kaseya BMS as a new user would, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from integrations.models import Integration
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _open_menu_item(page, item: str) -> None:
    card = page.locator("#card-kaseya-bms")
    card.get_by_role("button", name="Kaseya BMS menu").click()
    card.get_by_role("button", name=item).or_(card.get_by_role("link", name=item)).click()


def _fill_settings(page, sandbox_settings, username=None, password=None) -> None:
    page.get_by_label("Company Name").fill(sandbox_settings["company_name"])
    page.get_by_label("Username").fill(username or sandbox_settings["username"])
    page.get_by_label("Password").fill(password or sandbox_settings["password"])
    page.get_by_label("Server URL").fill(sandbox_settings["server_url"])
    page.get_by_role("button", name="Save").click()


def test_admin_sets_up_tests_and_deletes_kaseya_bms(page, screenshot, sandbox_settings, bms_sandbox, celery_worker):
    UserFactory(email="owner@msp.example", role="master_admin")
    bms_sandbox.control.add_user(
        username="limited@demo.local", password="limited-pass", rights={"Finance": {"view": True, "modify": False}}
    )
    sign_in(page, "owner@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Integrations").click()
    expect(page.locator("#card-kaseya-bms")).to_contain_text("Not configured")
    screenshot("01-integrations-not-configured")

    _open_menu_item(page, "Settings")
    expect(page.get_by_test_id("role-checklist")).to_contain_text("Has API Access")
    _fill_settings(page, sandbox_settings)
    expect(page.locator("#card-kaseya-bms")).to_contain_text("Not tested")
    screenshot("02-settings-saved")

    _open_menu_item(page, "Test Connection")
    checks = page.get_by_test_id("connection-checks")
    expect(checks.locator("li[data-passed='true']")).to_have_count(7)
    # The first successful test starts the initial sync; the card follows it live.
    expect(page.locator("#card-kaseya-bms")).to_contain_text("Connected", timeout=60_000)
    expect(page.get_by_test_id("record-counts")).to_contain_text("25 organizations")
    page.locator("#card-kaseya-bms details summary").click()
    screenshot("03-test-connection-passed-and-synced", readme="integrations")

    # The same card with an API user lacking Finance Modify.
    _open_menu_item(page, "Settings")
    _fill_settings(page, sandbox_settings, username="limited@demo.local", password="limited-pass")
    _open_menu_item(page, "Test Connection")
    failed = checks.locator("li[data-passed='false']")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("Finance: Modify All")
    expect(page.locator("#card-kaseya-bms")).to_contain_text("Error")
    screenshot("04-test-connection-missing-finance-modify")

    _open_menu_item(page, "Delete")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete Kaseya BMS?")
    screenshot("05-delete-confirmation")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.locator("#card-kaseya-bms")).to_contain_text("Not configured")
    assert not Integration.objects.exists()
    screenshot("06-deleted")
