"""A Master Admin sets up Xero as a new user would, in headless Chromium: Settings (the redirect URI
shown to copy), Connect Xero, the sandbox's consent page (Allow access), back on the card, Test
Connection passes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.providers.xero.conftest import xero_settings  # noqa: F401 - fixture
from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_connects_xero_through_the_consent_page(page, screenshot, live_server, xero_settings, xero_sandbox):  # noqa: F811
    xero_settings.PORTAL_BASE_URL = live_server.url  # the redirect URI comes back to this server
    UserFactory(email="owner@msp.example", role="master_admin")
    sign_in(page, "owner@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Integrations").click()
    card = page.locator("#card-xero")
    expect(card).to_contain_text("Not configured")
    card.get_by_role("link", name="Set up Xero").click()

    expect(page.get_by_test_id("xero-redirect-uri")).to_have_value(f"{live_server.url}/integrations/xero/callback/")
    page.get_by_label("Client ID").fill(xero_sandbox.client_id)
    page.get_by_label("Client Secret").fill(xero_sandbox.client_secret)
    page.get_by_label("Payment account").fill("615")
    screenshot("xero-01-settings")
    page.get_by_role("button", name="Save").click()

    card.get_by_role("button", name="Connect Xero").click()
    expect(page.get_by_role("button", name="Allow access")).to_be_visible()
    screenshot("xero-02-consent-page")
    page.get_by_role("button", name="Allow access").click()

    expect(page.get_by_text("Xero is connected to Demo MSP")).to_be_visible()
    card.get_by_role("button", name="Xero menu").click()
    card.get_by_role("button", name="Test Connection").click()
    expect(page.get_by_text("Xero: every check passed.")).to_be_visible()
    expect(card.get_by_test_id("connection-checks").locator("li[data-passed='true']")).to_have_count(8)
    expect(card.get_by_test_id("card-action")).to_contain_text("Unmatched in Xero")
    screenshot("xero-03-connected-and-tested")
