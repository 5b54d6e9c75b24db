"""A Master Admin configures notifications and sends a test one, in headless Chromium, with a
real Celery worker creating the ticket in the BMS sandbox."""

import time

import pytest
from playwright.sync_api import expect

from notifications.models import Delivery, NotificationPreference, NotificationSettings
from notifications.types import NotificationKind
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD
from tests.notifications.conftest import (  # noqa: F401 - fixtures shared with tests/notifications
    notif_worker,
    notif_worker_env,
    org_with,
    sandbox_anomalies,
    smtp_server,
    synced,
    tickets_with_key,
)

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_admin_configures_notifications_and_sends_a_test(  # noqa: F811 - fixtures imported above
    page,
    screenshot,
    admin_user,
    synced,  # noqa: F811
    bms_sandbox,
    notif_worker,  # noqa: F811
):
    org = org_with("recipient")
    msp = org_with("poc")
    sign_in(page, admin_user.email, DEFAULT_PASSWORD)
    page.get_by_role("link", name="Notifications", exact=True).click()
    expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    types = page.get_by_test_id("notification-types")
    expect(types.locator("tbody tr")).to_have_count(len(NotificationKind.values))  # one row per type
    screenshot("notifications-01-settings-defaults")

    page.get_by_label("Service Ticket for Autopay Changed").uncheck()
    page.get_by_label("Destination").select_option(label="Billing")
    page.get_by_label("Priority").select_option(label="High")
    page.get_by_label("Issue Type", exact=True).select_option(label="Billing")
    sub_issue = page.get_by_label("Sub-Issue Type")
    expect(sub_issue.locator("option", has_text="Invoice Question")).to_have_count(1)  # loaded by htmx
    sub_issue.select_option(label="Invoice Question")
    page.get_by_label("Status").select_option(label="New")
    page.get_by_label("Ticket Type", exact=True).select_option(label="Incident")
    page.get_by_label("Source", exact=True).select_option(label="Email")
    page.get_by_label("MSP's own BMS account").select_option(label=f"{msp.name} (BMS {msp.bms_id})")
    page.get_by_label("Staff recipients").fill("ops@msp.example")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Notification settings saved.")).to_be_visible()
    expect(page.get_by_label("Service Ticket for Autopay Changed")).not_to_be_checked()
    expect(page.get_by_label("Priority")).to_have_value("3")
    screenshot("notifications-02-settings-saved", readme="notifications")
    assert not NotificationPreference.objects.get(kind="autopay_changed").ticket_enabled
    config = NotificationSettings.objects.get()
    assert (
        config.queue_id,
        config.priority_id,
        config.issue_type_id,
        config.sub_issue_type_id,
        config.status_id,
        config.ticket_type_id,
        config.source_id,
    ) == (3, 3, 4, 41, 1, 2, 4)

    page.get_by_role("link", name="Send test notification").click()
    page.get_by_label("Notification type").select_option(label="Invoice Past Due")
    page.get_by_label("Organization").select_option(label=org.name)
    page.get_by_role("button", name="Preview").click()
    preview = page.get_by_test_id("preview")
    expect(preview).to_contain_text("[Test] Invoice")
    expect(page.get_by_test_id("preview-recipients")).to_contain_text("BMS invoice recipient")
    screenshot("notifications-03-test-preview")
    page.get_by_role("button", name="Send test notification").click()
    expect(page.get_by_text("Test Invoice Past Due notification sent")).to_be_visible()

    delivery = Delivery.objects.get(channel="ticket")
    deadline = time.monotonic() + 60
    while Delivery.objects.get(pk=delivery.pk).status != "sent" and time.monotonic() < deadline:
        time.sleep(0.3)
    page.get_by_role("navigation", name="Main navigation").get_by_role("link", name="Notification log").click()
    row = page.get_by_test_id("notification-log").locator("tbody tr").first
    delivery.refresh_from_db()
    assert delivery.status == "sent", delivery.errors
    expect(row.get_by_test_id("ticket-status")).to_contain_text(delivery.bms_ticket_number)
    expect(row.get_by_test_id("email-status")).to_contain_text("Sent")
    screenshot("notifications-04-log-with-ticket")
    row.get_by_role("link", name="Invoice Past Due").click()
    expect(page.get_by_test_id("ticket-number")).to_contain_text(delivery.bms_ticket_number)
    screenshot("notifications-05-detail")

    [ticket] = tickets_with_key(bms_sandbox.control, delivery.dedupe_key)
    assert ticket["ticketNumber"] == delivery.bms_ticket_number
    assert ticket["accountId"] == org.bms_id
    assert (ticket["queueId"], ticket["priorityId"], ticket["subIssueTypeId"], ticket["typeId"]) == (3, 3, 41, 2)
    assert ticket["title"].startswith("[Test] Invoice")

    # The sandbox's front page shows the ticket, for a demo (issue 14 item 16).
    page.goto(f"{bms_sandbox.url}/")
    created = page.get_by_test_id("created-tickets")
    expect(created).to_contain_text(delivery.bms_ticket_number)
    expect(created).to_contain_text(ticket["title"])
    expect(created).to_contain_text(org.name)
    screenshot("notifications-06-sandbox-front-page")
