"""A Master Admin syncs Kaseya BMS and looks at the result, in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.integrations.sync.helpers import run_sync

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sync_now_shows_progress_then_the_result(page, screenshot, bms_integration, bms_sandbox, celery_worker):
    run_sync(bms_integration)  # the initial sync is done; Sync Now is incremental
    bms_sandbox.control.mutate("account.create", accountName="Brightside Dental Group")
    UserFactory(email="owner@msp.example", role="master_admin")
    sign_in(page, "owner@msp.example", DEFAULT_PASSWORD)
    page.get_by_role("link", name="Integrations").click()

    bms_sandbox.control.set_faults(latency_ms=300)  # slow enough to watch
    card = page.locator("#card-kaseya-bms")
    card.get_by_role("button", name="Kaseya BMS menu").click()
    card.get_by_role("button", name="Sync Now").click()
    # The card says so while the run is active; no "sync started" message outlives it.
    expect(card.get_by_test_id("integration-state")).to_contain_text(re.compile("Sync queued|Syncing"))
    progress = page.get_by_test_id("sync-progress")
    expect(progress).to_contain_text("records", timeout=20_000)
    screenshot("sync-01-progress")
    bms_sandbox.control.set_faults()
    expect(card.get_by_test_id("integration-state")).to_contain_text("Connected", timeout=60_000)
    expect(card.get_by_test_id("record-counts")).to_contain_text("26 organizations")
    expect(card.get_by_test_id("last-sync")).to_contain_text("succeeded")
    expect(page.get_by_text("sync started")).to_have_count(0)
    screenshot("sync-02-connected")

    page.get_by_role("link", name="Sync history").click()
    history = page.get_by_test_id("sync-history")
    expect(history.locator("tbody tr")).to_have_count(2)
    expect(history.locator("tbody tr").first).to_contain_text("Sync Now")
    expect(history.locator("tbody tr").first).to_contain_text("Organizations: 1 / 0 / 0 / 0")
    screenshot("sync-03-history")

    page.get_by_role("link", name="Organizations").click()
    page.get_by_label("Search organizations").fill("Brightside")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="Brightside Dental Group").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Brightside Dental Group")
    screenshot("sync-04-organization")
