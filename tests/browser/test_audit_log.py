"""The audit log as a Master Admin reads it: sentences, old → new, no raw dictionaries."""

import pytest
from playwright.sync_api import expect

from integrations.registry import get_provider
from integrations.services import integration_save_settings
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_audit_log_reads_as_sentences(page, screenshot):
    anna = UserFactory(full_name="Anna Admin", email="anna@msp.example")
    settings = {
        "company_name": "Wrong Co",
        "username": "api@acme.example",
        "password": "first-Secret-1",
        "server_url": "https://bms.example",
    }
    provider = get_provider("kaseya-bms")
    integration_save_settings(provider=provider, actor=anna, cleaned_data=settings)
    integration_save_settings(provider=provider, actor=anna, cleaned_data=settings)  # changed nothing
    integration_save_settings(
        provider=provider, actor=anna, cleaned_data={**settings, "company_name": "Acme MSP", "password": "second-2"}
    )

    sign_in(page, "anna@msp.example", DEFAULT_PASSWORD)
    page.goto("/accounts/audit/")
    rows = page.locator("tr[data-action='integration.saved']")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(
        "Anna Admin changed Kaseya BMS settings: Company Name “Wrong Co” → “Acme MSP”; Password changed"
    )
    expect(rows.nth(1)).to_contain_text("Anna Admin added Kaseya BMS settings: Company Name set to “Wrong Co”")
    expect(page.locator("body")).not_to_contain_text("second-2")
    expect(page.locator("body")).not_to_contain_text("changed_fields")
    screenshot("audit-log-01-sentences")
