"""Connecting Xero through the sandbox's consent page (OAuth 2.0 authorization code), choosing the
organisation, and Test Connection: passing, and failing for each reason with the admin's remedy."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from integrations.models import DataSource, Integration, IntegrationStatus, SyncAlert, SyncAlertKind
from integrations.registry import installation_of
from integrations.services import integration_test_connection
from providers.xero.client import XeroIdentity
from providers.xero.models import XeroConnection
from providers.xero.tokens import SECRET_NAME, tokens_read
from tests.providers.xero.conftest import connect_via_consent, consent, grant_directly, save_xero_settings

pytestmark = pytest.mark.django_db

AREAS = [
    "connection",
    "token",
    "scope_contacts",
    "scope_invoices",
    "scope_payments",
    "scope_settings",
    "organisation",
    "payment_account",
]


def _checks(integration: Integration) -> dict:
    integration.refresh_from_db()
    return {check["area"]: check for check in integration.last_test_checks}


def _card(web) -> str:
    return web.get(reverse("integrations:list")).content.decode()


def test_settings_show_the_redirect_uri_and_never_the_secret(admin_client, xero_integration):
    page = admin_client.get(reverse("integrations:settings", args=["xero"])).content.decode()
    assert "http://127.0.0.1:8000/integrations/xero/callback/" in page
    assert "sandbox-demo-client-secret" not in page
    assert "redirect_uri" not in Integration.objects.get(provider_key="xero").config  # shown, not stored


def test_connect_through_the_consent_page(admin_client, xero_integration, xero_sandbox):
    assert "Connect Xero" in _card(admin_client)
    response = connect_via_consent(admin_client)
    assert response.status_code == 302 and response["Location"] == reverse("integrations:list")
    connection = XeroConnection.objects.get(integration=xero_integration)
    assert connection.tenant_id == xero_sandbox.tenant_id
    assert connection.tenant_name == "Demo MSP"
    assert "accounting.payments" in connection.scopes
    tokens = tokens_read(xero_integration.pk)
    assert tokens.access_token and tokens.refresh_token
    # Encrypted at rest, never on a page.
    stored = Integration.objects.get(pk=xero_integration.pk).encrypted_secrets[SECRET_NAME]
    assert tokens.refresh_token not in stored and tokens.access_token not in stored
    page = _card(admin_client)
    assert tokens.access_token not in page and tokens.refresh_token not in page
    assert "Xero is connected to Demo MSP" in page
    assert AuditEvent.objects.filter(action="xero.connected").exists()
    assert tokens.refresh_token not in str(AuditEvent.objects.get(action="xero.connected").details)


def test_the_callback_needs_the_state_issued_to_the_same_session(admin_client, admin_user, xero_integration):
    start = admin_client.post("/integrations/xero/connect/")
    back = consent(start["Location"])
    path = back.split("127.0.0.1:8000", 1)[1]
    other = Client()
    other.force_login(admin_user)  # the same admin in another browser session
    response = other.get(path, follow=True)
    assert "did not match a Connect click" in response.content.decode()
    assert tokens_read(xero_integration.pk) is None
    # The right session, once: the code is exchanged; a replay of the same answer is refused.
    assert admin_client.get(path)["Location"] == reverse("integrations:list")
    assert tokens_read(xero_integration.pk) is not None
    replay = admin_client.get(path, follow=True).content.decode()
    assert "did not match a Connect click" in replay


def test_a_forged_state_is_refused(admin_client, xero_integration):
    admin_client.post("/integrations/xero/connect/")
    response = admin_client.get("/integrations/xero/callback/?code=abc&state=forged", follow=True)
    assert "did not match a Connect click" in response.content.decode()
    assert tokens_read(xero_integration.pk) is None


def test_cancel_on_the_consent_page(admin_client, xero_integration):
    response = connect_via_consent(admin_client, allow=False)
    assert response.status_code == 302
    page = _card(admin_client)
    assert "Xero access was not allowed" in page
    assert tokens_read(xero_integration.pk) is None


def test_only_the_master_admin_connects(billing_client, xero_integration):
    assert billing_client.post("/integrations/xero/connect/").status_code == 403
    assert billing_client.get("/integrations/xero/callback/?code=x&state=y").status_code == 403
    assert billing_client.get("/integrations/xero/organisation/").status_code == 403


def test_connect_needs_the_settings_first(admin_client, xero_settings):
    response = admin_client.post("/integrations/xero/connect/")
    assert response["Location"] == reverse("integrations:settings", args=["xero"])


def test_a_grant_covering_several_organisations_asks_which(admin_client, xero_integration, xero_sandbox):
    tenants = [t["tenantId"] for t in xero_sandbox.control.health()["tenants"]]
    assert len(tenants) == 2
    response = connect_via_consent(admin_client, tenants=tenants)
    assert response["Location"] == reverse("integrations:xero:choose")
    assert "Choose organisation" in _card(admin_client)
    page = admin_client.get(response["Location"]).content.decode()
    assert "Demo MSP Holdings" in page and "Demo MSP" in page
    refused = admin_client.post(reverse("integrations:xero:choose"), {"tenant_id": "not-granted"})
    assert refused.status_code == 400
    other = next(t for t in tenants if t != xero_sandbox.tenant_id)
    admin_client.post(reverse("integrations:xero:choose"), {"tenant_id": other})
    connection = XeroConnection.objects.get(integration=xero_integration)
    assert (connection.tenant_id, connection.tenant_name) == (other, "Demo MSP Holdings")
    assert AuditEvent.objects.filter(action="xero.organisation_chosen").exists()


def test_test_connection_passes_and_identifies_the_tenant(admin_client, xero_integration, xero_sandbox):
    connect_via_consent(admin_client)
    before = tokens_read(xero_integration.pk)
    response = admin_client.post(reverse("integrations:test", args=["xero"]), follow=True)
    assert "Xero: every check passed" in response.content.decode()
    checks = _checks(xero_integration)
    assert list(checks) == AREAS
    assert all(check["passed"] for check in checks.values()), checks
    assert "615 Portal Payments Clearing accepts payments" in checks["payment_account"]["detail"]
    after = tokens_read(xero_integration.pk)
    assert after.refresh_token != before.refresh_token  # the token refreshed (and rotated)
    source = DataSource.objects.get(integration=xero_integration)
    assert (source.provider_key, source.tenant_key) == ("xero", f"tenant:{xero_sandbox.tenant_id}")
    assert source.display_name == "Demo MSP"
    xero_integration.refresh_from_db()
    assert xero_integration.status == IntegrationStatus.CONNECTED and xero_integration.tenant_confirmed


@pytest.mark.parametrize(
    ("account", "detail", "remedy"),
    [
        ("999", "Xero has no account 999", "Enter in Settings the code of an existing account"),
        ("092", "is archived in Xero", "Restore it in Xero's chart of accounts"),
        ("200", "does not accept payments", "tick “Enable payments to this account”"),
    ],
    ids=["missing", "archived", "payments-not-enabled"],
)
def test_a_wrong_payment_account_fails_with_the_remedy(
    xero_sandbox, xero_settings, admin_user, account, detail, remedy
):
    integration = save_xero_settings(xero_sandbox, admin_user, payment_account=account)
    grant_directly(integration, xero_sandbox, admin_user)
    result = integration_test_connection(integration=integration, actor=admin_user)
    assert not result.passed
    checks = _checks(integration)
    assert checks["payment_account"]["passed"] is False
    assert detail in checks["payment_account"]["detail"]
    assert remedy in checks["payment_account"]["remedy"]
    assert all(checks[area]["passed"] for area in AREAS if area != "payment_account")


def test_the_payment_account_may_be_given_by_id(xero_sandbox, xero_settings, admin_user):
    integration = save_xero_settings(xero_sandbox, admin_user)
    grant_directly(integration, xero_sandbox, admin_user)
    with installation_of(integration).client() as client:
        clearing = client.list_accounts(where='Code=="615"')[0]
    integration = save_xero_settings(xero_sandbox, admin_user, payment_account=clearing.account_id.upper())
    assert integration_test_connection(integration=integration, actor=admin_user).passed


def test_a_missing_scope_names_the_permission(xero_sandbox, xero_settings, admin_user):
    integration = save_xero_settings(xero_sandbox, admin_user)
    # No accounting.payments (nor the broad accounting.transactions): invoices can be read, not paid.
    scopes = ["offline_access", "accounting.contacts", "accounting.invoices", "accounting.settings.read"]
    grant_directly(integration, xero_sandbox, admin_user, scopes=scopes)
    result = integration_test_connection(integration=integration, actor=admin_user)
    assert not result.passed
    checks = _checks(integration)
    assert checks["scope_payments"]["passed"] is False
    assert "accounting.payments" in checks["scope_payments"]["detail"]
    assert "Reconnect Xero" in checks["scope_payments"]["remedy"]
    assert all(checks[a]["passed"] for a in AREAS if a != "scope_payments")
    assert "Permission: Payments (posting)" in result.summary


def test_a_revoked_grant_shows_reconnect_and_raises_sync_failed(
    admin_client, admin_user, xero_integration, xero_sandbox
):
    connect_via_consent(admin_client)
    assert integration_test_connection(integration=xero_integration, actor=admin_user).passed  # links a source
    # The organisation's owner revokes the portal's access in Xero.
    with XeroIdentity(xero_sandbox.client_id, xero_sandbox.client_secret, identity_url=xero_sandbox.url) as identity:
        identity.revoke(tokens_read(xero_integration.pk).refresh_token)
    result = integration_test_connection(integration=xero_integration, actor=admin_user)
    checks = _checks(xero_integration)
    assert checks["token"]["passed"] is False
    assert "no longer accepts" in checks["token"]["detail"]
    assert "Reconnect Xero" in checks["token"]["remedy"]
    assert not result.passed
    connection = XeroConnection.objects.get(integration=xero_integration)
    assert connection.needs_reconnect
    alerts = SyncAlert.objects.filter(kind=SyncAlertKind.SYNC_FAILED, source__integration=xero_integration)
    assert alerts.count() == 1 and "Xero" in alerts.get().reason
    page = _card(admin_client)
    assert "Reconnect Xero" in page
    # A second failure records no second alert; the next Test Connection says so without calling Xero.
    integration_test_connection(integration=xero_integration, actor=admin_user)
    assert alerts.count() == 1
    assert "Reconnect Xero" in _checks(xero_integration)["connection"]["remedy"]
    # Reconnecting clears it.
    connect_via_consent(admin_client)
    connection.refresh_from_db()
    assert not connection.needs_reconnect
    assert integration_test_connection(integration=xero_integration, actor=admin_user).passed
