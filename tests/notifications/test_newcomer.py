"""Issue 14 (what a newcomer tripped over), items 3, 8 and 10: Notifications works out of the
box, keeps its choices through a validation error, and previews consistent sample facts.
Through Django's test client, against the BMS sandbox."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from notifications.firing import notification_fire
from notifications.models import Channel, DeliveryStatus, Notification, NotificationSettings
from notifications.types import NotificationKind
from organizations.models import Organization
from providers.kaseya_bms.installation import KaseyaBmsInstallation
from tests.notifications.conftest import deliver_all
from tests.notifications.test_views import SETTINGS_URL, _form_data

pytestmark = pytest.mark.django_db

TEST_URL = reverse("notifications:test")


# --- item 10: consistent sample facts --------------------------------------------------------------


def _days_past_due(html: str) -> int:
    found = re.search(r"is (\d+) days past due", html)
    assert found, "the preview states how many days past due"
    return int(found.group(1))


def test_newcomer_10_past_due_preview_uses_a_past_due_invoice_and_its_real_days(synced, admin_client):
    now = timezone.now()
    overdue = Invoice.objects.filter(deleted_at__isnull=True, balance_due__gt=0, due_date__lt=now)
    org = Organization.objects.filter(pk__in=overdue.values("organization")).order_by("bms_id").first()
    assert org is not None, "the sandbox has past-due invoices"
    expected = overdue.filter(organization=org).order_by("-due_date").first()

    html = admin_client.get(TEST_URL, {"kind": "invoice_past_due", "organization": org.pk}).content.decode()

    assert f"Invoice: {expected.number}" in html
    assert f"Due: {expected.due_date:%Y-%m-%d}" in html
    assert _days_past_due(html) == (now - expected.due_date).days > 0
    assert "preview-sample-note" not in html


def test_newcomer_10_no_past_due_invoice_reads_zero_days_and_says_why(synced, admin_client):
    now = timezone.now()
    org = Organization.objects.order_by("bms_id").first()
    Invoice.objects.filter(organization=org).update(due_date=now + timedelta(days=20))
    invoice = Invoice.objects.filter(organization=org, balance_due__gt=0).order_by("-invoice_date").first()

    html = admin_client.get(TEST_URL, {"kind": "invoice_past_due", "organization": org.pk}).content.decode()

    assert _days_past_due(html) == 0
    assert f"has no past-due invoice: the sample uses invoice {invoice.number}" in html


# --- item 8: Sub-Issue Type survives a validation error --------------------------------------------


def _selected(html: str, name: str) -> str:
    """What the browser submits for the drop-down: the selected option, else the first."""
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(0))
    return (chosen or re.search(r'<option value="([^"]*)"', select.group(0))).group(1)


def test_newcomer_8_sub_issue_type_stays_chosen_after_an_error_and_is_saved_next(synced, admin_client):
    bad = admin_client.post(SETTINGS_URL, _form_data(staff_recipients="not-an-address"))
    assert bad.status_code == 400
    html = bad.content.decode()
    assert _selected(html, "issue_type_id") == "4"
    assert _selected(html, "sub_issue_type_id") == "41"  # was "No sub-issue type"
    assert "Invoice Question" in html

    # The next Save sends what the page shows: the choice is saved, not dropped.
    fixed = dict(_form_data(), sub_issue_type_id=_selected(html, "sub_issue_type_id"))
    assert admin_client.post(SETTINGS_URL, fixed).status_code == 302
    assert NotificationSettings.objects.get().sub_issue_type_id == 41


def test_newcomer_8_sub_issue_loader_keeps_the_chosen_sub_type(synced, admin_client):
    url = reverse("notifications:sub-issue-types")
    html = admin_client.get(url, {"issue_type_id": "4", "sub_issue_type_id": "41"}).content.decode()
    assert '<option value="41" selected>Invoice Question</option>' in html
    other = admin_client.get(url, {"issue_type_id": "1", "sub_issue_type_id": "41"}).content.decode()
    assert "selected" not in other


# --- item 3: notifications work out of the box -----------------------------------------------------


def _fire_sync_failed():
    return notification_fire(
        NotificationKind.SYNC_FAILED, context={"source": "Kaseya BMS", "reason": "BMS did not answer."}
    )


def test_newcomer_3_own_account_defaults_to_the_bms_api_users_and_internal_tickets_succeed(
    synced, admin_client, bms_sandbox
):
    assert NotificationSettings.objects.get_or_create(pk=1)[0].internal_account_id is None  # never set
    msp = Organization.objects.get(bms_id=1)  # the sandbox's userinfo answers AccountId 1

    page = admin_client.get(SETTINGS_URL).content.decode()
    assert f"BMS default: {msp.name} (BMS 1), the BMS API user&#x27;s account" in page
    assert 'data-testid="own-account-source"' in page and "own-account-unset" not in page

    ticket = deliver_all(_fire_sync_failed())[Channel.TICKET]

    assert ticket.status == DeliveryStatus.SENT, ticket.reason
    created = [t for t in bms_sandbox.control.records("tickets") if t["id"] == ticket.bms_ticket_id]
    assert created and created[0]["accountId"] == 1


def test_newcomer_3_unset_own_account_warns_and_skips_internal_tickets_with_a_reason(
    synced, admin_client, monkeypatch, caplog
):
    monkeypatch.setattr(KaseyaBmsInstallation, "own_account_id", lambda self: None)  # BMS names none

    page = admin_client.get(SETTINGS_URL).content.decode()
    assert 'data-testid="own-account-unset"' in page
    assert "those tickets are skipped" in page

    with caplog.at_level(logging.INFO, logger="notifications.firing"):
        notification = _fire_sync_failed()
    ticket = notification.deliveries.get(channel=Channel.TICKET)
    assert ticket.status == DeliveryStatus.SKIPPED  # not failed
    assert "The MSP's own BMS account is not set" in ticket.reason
    assert "ticket skipped: The MSP's own BMS account is not set" in caplog.text
    assert notification.deliveries.get(channel=Channel.EMAIL).status == DeliveryStatus.PENDING
    # A client notification does not need it: its ticket still goes out.
    org = Organization.objects.exclude(bms_id=None).order_by("bms_id").first()
    invoice = Invoice.objects.filter(organization=org).first()
    client_ticket = notification_fire(NotificationKind.NEW_INVOICE, invoice=invoice).deliveries.get(
        channel=Channel.TICKET
    )
    assert client_ticket.status == DeliveryStatus.PENDING


def test_newcomer_3_test_page_defaults_produce_a_ticket_that_succeeds(synced, admin_client, bms_sandbox):
    form = admin_client.get(TEST_URL).content.decode()
    kind, org_pk = _selected(form, "kind"), _selected(form, "organization")
    assert org_pk, "an organization is chosen by default"
    org = Organization.objects.get(pk=org_pk)
    assert org.bms_id, "the default organization has a BMS account"

    preview = admin_client.get(TEST_URL, {"kind": kind, "organization": org_pk}).content.decode()
    assert f"{org} (BMS account {org.bms_id})" in preview.replace("&amp;", "&")
    internal = admin_client.get(TEST_URL, {"kind": "sync_failed", "organization": org_pk}).content.decode()
    assert "The MSP&#x27;s own BMS account 1 (the BMS API user&#x27;s account)" in internal

    response = admin_client.post(TEST_URL, {"kind": kind, "organization": org_pk})
    assert response.status_code == 302
    ticket = deliver_all(Notification.objects.get(is_test=True))[Channel.TICKET]
    assert ticket.status == DeliveryStatus.SENT, ticket.reason
