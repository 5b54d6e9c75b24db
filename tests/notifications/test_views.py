"""Configurations > Notifications, Send test notification and the log, through Django's test client."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from notifications.firing import notification_fire
from notifications.models import Channel, Delivery, DeliveryStatus, NotificationPreference, NotificationSettings
from notifications.types import NotificationKind
from tests.notifications.conftest import TICKET_CONFIG, offer_accounting, org_with, set_preferences

pytestmark = pytest.mark.django_db

SETTINGS_URL = reverse("notifications:settings")


def _form_data(**overrides):
    data = {f"email_{k}": "on" for k in NotificationKind.values}
    data.update({f"ticket_{k}": "on" for k in NotificationKind.values})
    data["staff_recipients"] = "ops@msp.example"
    data.update({k: str(v) for k, v in TICKET_CONFIG.items()})
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_page_lists_every_type_with_both_check_boxes_ticked_by_default(synced, admin_client):
    page = admin_client.get(SETTINGS_URL).content.decode()
    for label in (
        "Payment Successful",
        "Payment Failed",
        "Payment Scheduled",
        "Autopay Changed",
        "Payment Method Changed",
        "New Invoice",
        "Invoice Past Due",
        "Portal Access Requested",
        "Client Commented on Invoice",
        "Invoice Comment Reply",
        "Sync Failed",
        "Sync Not Running",
        "Autopay Summary",
    ):
        assert f"Service Ticket for {label}" in page and f"Email for {label}" in page
    assert len(re.findall(r'type="checkbox"[^>]*\bchecked\b', page)) == 26
    # The drop-downs are filled from BMS's lookups.
    for name in ("Network Operations", "High", "Billing", "Incident", "Email"):
        assert name in page, name


def test_admin_saves_check_boxes_and_ticket_configuration_together(synced, admin_client):
    data = _form_data(ticket_new_invoice=None, email_sync_failed=None)
    response = admin_client.post(SETTINGS_URL, data)
    assert response.status_code == 302
    new_invoice = NotificationPreference.objects.get(kind="new_invoice")
    assert new_invoice.email_enabled and not new_invoice.ticket_enabled
    assert not NotificationPreference.objects.get(kind="sync_failed").email_enabled
    config = NotificationSettings.objects.get()
    assert {k: getattr(config, k) for k in TICKET_CONFIG} == TICKET_CONFIG
    assert config.names["priority_id"] == "High" and config.names["sub_issue_type_id"]
    assert AuditEvent.objects.filter(action="notifications.settings_saved").exists()
    # Clearing Service Ticket stops ticket creation for that type.
    notification = notification_fire(NotificationKind.NEW_INVOICE, invoice=org_with("recipient").invoices.first())
    ticket = notification.deliveries.get(channel=Channel.TICKET)
    assert ticket.status == DeliveryStatus.SKIPPED and "turned off for New Invoice" in ticket.reason


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("priority_id", "99", "BMS has no active priority with id 99."),
        ("queue_id", "5", "BMS has no active Destination queue with id 5."),  # queue 5 is inactive
        ("sub_issue_type_id", "11", "BMS has no sub-issue type 11 under the chosen Issue Type."),
        ("internal_account_id", "999999", "BMS has no account 999999."),
        ("staff_recipients", "not-an-address", "Not a valid e-mail address: not-an-address"),
        ("priority_id", "high", "Enter a whole number."),
    ],
)
def test_bad_input_is_explained_and_nothing_is_saved(synced, admin_client, field, value, message):
    response = admin_client.post(SETTINGS_URL, _form_data(**{field: value}, ticket_new_invoice=None))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not NotificationPreference.objects.exists()
    assert NotificationSettings.objects.get().priority_id is None


def test_unknown_ticket_type_id_is_refused_when_bms_lists_them(synced, admin_client):
    response = admin_client.post(SETTINGS_URL, _form_data(ticket_type_manual="42"))
    assert "BMS has no active ticket type with id 42." in response.content.decode()


def test_bms_not_connected_says_so_and_saves_the_check_boxes(admin_client):
    page = admin_client.get(SETTINGS_URL).content.decode()
    assert "Kaseya BMS is not connected, so no service tickets are created" in page
    response = admin_client.post(SETTINGS_URL, {"email_new_invoice": "on", "staff_recipients": ""})
    assert response.status_code == 302
    assert not NotificationPreference.objects.get(kind="payment_failed").email_enabled


def test_billing_staff_may_view_but_not_save(synced, billing_client):
    page = billing_client.get(SETTINGS_URL).content.decode()
    assert "only a Master Admin can change them" in page and 'type="submit"' not in page.split("<form method")[-1]
    assert billing_client.post(SETTINGS_URL, _form_data()).status_code == 403
    assert not NotificationPreference.objects.exists()


def test_saving_requires_a_csrf_token(admin_user):
    web = Client(enforce_csrf_checks=True)
    web.force_login(admin_user)
    assert web.post(SETTINGS_URL, _form_data()).status_code == 403
    assert web.post(reverse("notifications:test"), {"kind": "new_invoice"}).status_code == 403


def test_lookups_are_cached_briefly(synced, admin_client, bms_sandbox):
    admin_client.get(SETTINGS_URL)
    bms_sandbox.control.clear_requests()
    admin_client.get(SETTINGS_URL)
    counts = bms_sandbox.control.request_counts()["by_endpoint"]
    assert not any("lookup" in key for key in counts), counts


def test_sub_issue_type_options_follow_the_issue_type(synced, billing_client):
    html = billing_client.get(reverse("notifications:sub-issue-types"), {"issue_type_id": "4"}).content.decode()
    assert '<option value="41">Invoice Question</option>' in html


def test_send_test_notification_previews_then_sends(ticket_settings, admin_client):
    set_preferences(email=True, ticket=True)
    org = org_with("recipient")
    url = reverse("notifications:test")
    preview = admin_client.get(url, {"kind": "invoice_past_due", "organization": org.pk}).content.decode()
    assert "[Test] Invoice" in preview and "BMS invoice recipient" in preview
    assert "[portal-ref:&lt;key&gt;:ticket:" in preview  # the marker, signed
    assert Delivery.objects.count() == 0  # a preview saves nothing
    response = admin_client.post(url, {"kind": "invoice_past_due", "organization": org.pk})
    assert response.status_code == 302
    delivery = Delivery.objects.get(channel=Channel.EMAIL)
    assert delivery.notification.is_test and delivery.notification.organization == org
    assert delivery.status == DeliveryStatus.PENDING


def test_preview_says_why_no_email_would_go_out(ticket_settings, admin_client, monkeypatch):
    offer_accounting(monkeypatch, None)
    org = org_with("none")
    page = admin_client.get(reverse("notifications:test"), {"kind": "new_invoice", "organization": org.pk})
    assert "No email would be sent" in page.content.decode()


def test_log_filters_and_retry(ticket_settings, admin_client, billing_client, monkeypatch):
    offer_accounting(monkeypatch, None)
    set_preferences(email=True, ticket=False)
    poc, none = org_with("poc"), org_with("none")
    notification_fire(NotificationKind.AUTOPAY_CHANGED, organization=poc)
    skipped = notification_fire(NotificationKind.PAYMENT_FAILED, organization=none)
    notification_fire(NotificationKind.SYNC_FAILED, context={"reason": "x"})
    log = reverse("notifications:log")
    page = billing_client.get(log).content.decode()
    assert "no accounting package is integrated" in page
    assert billing_client.get(log, {"kind": "sync_failed"}).context["notifications"].count() == 1
    assert billing_client.get(log, {"organization": poc.pk}).context["notifications"].count() == 1
    assert billing_client.get(log, {"organization": "internal"}).context["notifications"].count() == 1
    assert list(billing_client.get(log, {"status": "not_sent"}).context["notifications"]) == [skipped]
    failed = Delivery.objects.get(notification__organization=poc, channel=Channel.EMAIL)
    Delivery.objects.filter(pk=failed.pk).update(status=DeliveryStatus.FAILED, reason="SMTP said no")
    assert billing_client.get(log, {"status": "failed"}).context["notifications"].count() == 1
    response = billing_client.post(reverse("notifications:retry", args=[failed.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("notifications:detail", args=[failed.notification_id])
    failed.refresh_from_db()
    assert failed.status == DeliveryStatus.PENDING and failed.reason == ""
    detail = admin_client.get(reverse("notifications:detail", args=[skipped.pk])).content.decode()
    assert "no accounting package is integrated" in detail
