"""The audit log as a streaming CSV file (Master Admin only, as the page)."""

import csv
import io

import pytest
from django.db import connection
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.services import audit_record

EXPORT = reverse("accounts:audit-export")


def _rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8").removeprefix("\ufeff")
    return list(csv.reader(io.StringIO(text)))


@pytest.fixture
def events(admin_user):
    first = audit_record(actor=None, action="sync.failed", target="Kaseya BMS", summary="Sync failed")
    AuditEvent.objects.filter(pk=first.pk).update(created_at=timezone.now() - timezone.timedelta(hours=1))
    second = audit_record(
        actor=admin_user,
        action="integration.saved",
        target="Kaseya BMS",
        summary="Updated Kaseya BMS settings",
        changed_fields=["password", "server_url"],
    )
    return first, second


def test_every_event_newest_first_with_its_details(admin_client, events, admin_user):
    first, second = events
    header, *rows = _rows(admin_client.get(EXPORT))
    assert header == ["Time", "Who", "Action", "Target", "Summary", "Sentence", "Details"]
    second.refresh_from_db()
    assert rows == [
        [
            timezone.localtime(second.created_at).isoformat(timespec="seconds"),
            admin_user.email,
            "integration.saved",
            "Kaseya BMS",
            "Updated Kaseya BMS settings",
            f"{admin_user.full_name} changed Kaseya BMS settings (password, server_url)",
            '{"changed_fields": ["password", "server_url"]}',
        ],
        [rows[1][0], "system", "sync.failed", "Kaseya BMS", "Sync failed", "The system: Sync failed", ""],
    ]


def test_no_cell_can_run_as_a_formula(admin_client, admin_user):
    audit_record(actor=admin_user, action="organization.renamed", target="=cmd|' /C calc'!A0", summary="@SUM(1)")
    [row] = _rows(admin_client.get(EXPORT))[1:]
    assert row[3] == "'=cmd|' /C calc'!A0"
    assert row[4] == "'@SUM(1)"


def test_the_response_streams_the_events_in_chunks(admin_client, events, monkeypatch, django_assert_num_queries):
    with CaptureQueriesContext(connection) as answering:
        response = admin_client.get(EXPORT)

    assert not any("accounts_auditevent" in query["sql"] for query in answering.captured_queries), (
        "read as the client reads"
    )
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-log-')
    chunks = iter(response.streaming_content)
    with django_assert_num_queries(0):
        next(chunks)

    def no_full_list(queryset):
        raise AssertionError("the export must read with iterator(), never load the whole log")

    monkeypatch.setattr(QuerySet, "_fetch_all", no_full_list)
    assert len(list(chunks)) == 2


def test_master_admin_only_as_the_audit_page(client, admin_client, billing_client, client_client, events):
    assert admin_client.get(EXPORT).status_code == 200
    assert billing_client.get(EXPORT).status_code == 403
    assert client_client.get(EXPORT).status_code == 403
    anonymous = client.get(EXPORT)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))
