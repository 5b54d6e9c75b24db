"""Issue 14 item 14: a failed run's page counts every request it sent (the sign-in too) and says
"nothing synced" instead of an empty Records table; Sync history shows the failed count."""

from __future__ import annotations

import pytest
from django.urls import reverse

from integrations.models import SyncRun
from tests.integrations.sync.helpers import run_sync

pytestmark = pytest.mark.django_db


def test_newcomer_14_failed_sign_in_counts_its_request_and_says_nothing_synced(bms_integration, admin_client):
    bms_integration.set_secret("password", "not-the-password")
    bms_integration.save()

    run = run_sync(bms_integration)

    assert run.status == "failed", run.error
    assert run.counts == {}
    assert run.requests == {"POST /v2/security/authenticate": 1}
    page = admin_client.get(reverse("integrations:sync-run", args=[run.pk]))
    html = page.content.decode()
    assert f"Requests to BMS ({run.total_requests})" in html
    assert "Requests to BMS (0)" not in html
    assert 'data-testid="nothing-synced"' in html
    assert "Nothing synced: the run failed before it wrote any record." in html
    assert "<th>Created</th>" not in html.replace('class="text-end"', "")
    history = admin_client.get(reverse("integrations:sync-history")).content.decode()
    assert "nothing synced" in history


def test_newcomer_14_history_shows_failed_per_entity(bms_integration, admin_client):
    run = run_sync(bms_integration)
    assert run.status == "succeeded", run.error
    counts = {entity: {**c, "failed": 0} for entity, c in run.counts.items()}
    counts["invoices"]["failed"] = 3
    SyncRun.objects.filter(pk=run.pk).update(counts=counts)

    history = admin_client.get(reverse("integrations:sync-history")).content.decode()

    assert "Created / updated / unchanged / deleted / failed" in history
    assert 'data-testid="history-failed-invoices">3<' in history
    assert 'data-testid="history-failed-contacts">0<' in history


def test_newcomer_14_a_run_retrying_its_sign_in_counts_every_attempt(bms_integration, bms_sandbox, settings):
    settings.SYNC_MAX_RETRIES = 2
    bms_sandbox.control.set_faults(
        error_rate=1.0, error_status=503, include_auth=True, paths=["/v2/security/authenticate"]
    )

    run = run_sync(bms_integration)

    assert run.status == "failed", run.error
    sent = bms_sandbox.control.faults_fired()["error POST /v2/security/authenticate"]
    assert sent > settings.SYNC_MAX_RETRIES  # a first try and the retries, each with the client's own attempts
    assert run.requests == {"POST /v2/security/authenticate": sent}
