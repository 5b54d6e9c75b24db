"""Issue 14 (what a newcomer tripped over), items 3, 8 and 10: Notifications works out of the
box, keeps its choices through a validation error, and previews consistent sample facts.
Through Django's test client, against the BMS sandbox."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from notifications.models import NotificationSettings
from organizations.models import Organization
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
    select = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(0))
    return chosen.group(1) if chosen else ""


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
