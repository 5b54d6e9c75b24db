"""Deleting the Xero integration revokes the portal's grant at Xero (the identity service's revocation
endpoint), best effort: with Xero unreachable the delete still proceeds, the records are kept, and the
admin is told to disconnect the app in Xero."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from accounts.models import AuditEvent
from integrations.models import DataSource, Integration
from providers.xero.client import XeroIdentity
from providers.xero.exceptions import XeroGrantRevoked
from providers.xero.models import XeroConnection
from providers.xero.tokens import tokens_read

pytestmark = pytest.mark.django_db


def _identity(sandbox) -> XeroIdentity:
    return XeroIdentity(sandbox.client_id, sandbox.client_secret, identity_url=sandbox.url)


def _delete(admin_client) -> list[str]:
    answer = admin_client.post("/integrations/xero/delete/")
    assert answer.status_code == 302
    return [str(m) for m in get_messages(answer.wsgi_request)]


def test_delete_revokes_the_grant_and_the_old_refresh_token_no_longer_works(admin_client, xero_connected, xero_sandbox):
    refresh_token = tokens_read(xero_connected.pk).refresh_token
    source = DataSource.objects.get(integration=xero_connected)
    assert xero_sandbox.control.health()  # the sandbox answers

    said = _delete(admin_client)
    assert "Xero was deleted. Synced records are kept." in said
    assert "Xero revoked the portal's access to the Xero organisation." in said
    assert not Integration.objects.filter(pk=xero_connected.pk).exists()
    assert not XeroConnection.objects.exists()
    assert DataSource.objects.filter(pk=source.pk).exists()  # history kept
    audit = AuditEvent.objects.get(action="integration.deleted")
    assert "revoked" in audit.summary and refresh_token not in audit.summary

    with _identity(xero_sandbox) as identity, pytest.raises(XeroGrantRevoked):
        identity.refresh(refresh_token)


def test_with_xero_unreachable_the_delete_proceeds_and_says_what_to_do(
    admin_client, xero_connected, xero_sandbox, settings
):
    refresh_token = tokens_read(xero_connected.pk).refresh_token
    settings.XERO_IDENTITY_URL = "http://127.0.0.1:9"  # nothing listens there

    said = _delete(admin_client)
    assert "Xero was deleted. Synced records are kept." in said
    [warning] = [m for m in said if "could not be reached" in m]
    assert "Settings > Connected apps" in warning and refresh_token not in warning
    assert not Integration.objects.filter(pk=xero_connected.pk).exists()
    assert DataSource.objects.filter(provider_key="xero").exists()
    assert "not revoked" in AuditEvent.objects.get(action="integration.deleted").summary
    # Honest: Xero was not told, so the grant still works there.
    with _identity(xero_sandbox) as identity:
        assert identity.refresh(refresh_token).access_token


def test_deleting_a_xero_integration_never_connected_asks_xero_nothing(admin_client, xero_integration, xero_sandbox):
    xero_sandbox.control.clear_requests()
    said = _delete(admin_client)
    assert said == ["Xero was deleted. Synced records are kept."]
    assert xero_sandbox.control.requests()["total"] == 0
