"""One BMS tenant is one data source, whatever URL reaches it (hardening item 8), and settings
that may reach another tenant move no data until Test Connection has identified it (newcomer
item 1). Against the BMS sandbox, whose userinfo answers the tenant's TenantId."""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from bms_sandbox.testing import SandboxServer
from integrations.models import DataSource, Integration, SyncRun
from integrations.registry import get_provider
from integrations.services import integration_save_settings, integration_test_connection
from integrations.sync.service import SyncNeedsTest, sync_request, sync_run_execute
from organizations.models import Organization
from tests.billing.factories import OrganizationFactory
from tests.conftest import sandbox_settings_for
from tests.integrations.sync.helpers import run_sync

pytestmark = pytest.mark.django_db


def _save(actor, **cleaned) -> Integration:
    return integration_save_settings(provider=get_provider("kaseya-bms"), actor=actor, cleaned_data=cleaned)


def _live_orgs(source) -> int:
    return Organization.objects.filter(source=source, deleted_at__isnull=True).count()


def test_hardening_8_another_url_for_the_same_tenant_keeps_the_source_and_client_access(
    bms_integration, bms_sandbox, settings, admin_user, client_user
):
    run_sync(bms_integration)
    source = DataSource.objects.get(integration=bms_integration)
    assert source.tenant_key == "tenant:1" and source.tenant_identified
    orgs = _live_orgs(source)
    client_user.organization = Organization.objects.filter(source=source).first()
    client_user.save()

    # The same sandbox by another host name: a second URL for one tenant.
    port = urlsplit(bms_sandbox.url).port
    cleaned = {**sandbox_settings_for(bms_sandbox, settings), "server_url": f"http://localhost:{port}"}
    settings.BMS_ALLOWED_INSECURE_HOSTS = [*settings.BMS_ALLOWED_INSECURE_HOSTS, f"localhost:{port}"]
    integration = _save(admin_user, **cleaned)
    assert not integration.tenant_confirmed
    with pytest.raises(SyncNeedsTest):
        sync_request(integration=integration, trigger="sync_now")

    result = integration_test_connection(integration=integration, actor=admin_user)
    assert result.passed, result.summary
    assert list(DataSource.objects.values_list("pk", "tenant_key")) == [(source.pk, "tenant:1")]
    run = run_sync(integration)
    assert run.status == "succeeded", run.error
    assert sum(counts["created"] for counts in run.counts.values()) == 0  # nothing copied again
    assert _live_orgs(source) == orgs
    client_user.refresh_from_db()
    assert client_user.organization.source_id == source.pk


def test_hardening_8_a_different_tenant_is_a_new_source_and_the_old_one_keeps_its_records(
    bms_integration, bms_sandbox, settings, admin_user
):
    run_sync(bms_integration)
    old = DataSource.objects.get(integration=bms_integration)
    orgs = _live_orgs(old)
    with SandboxServer(tenant_id=2, tenant="Other MSP", accounts=3) as other:
        cleaned = sandbox_settings_for(other, settings)
        settings.BMS_ALLOWED_INSECURE_HOSTS = [urlsplit(bms_sandbox.url).netloc, urlsplit(other.url).netloc]
        integration = _save(admin_user, **cleaned)
        # Saved, not yet tested: nothing moved.
        assert DataSource.objects.get(integration=integration).pk == old.pk
        assert _live_orgs(old) == orgs

        result = integration_test_connection(integration=integration, actor=admin_user)
        assert result.passed, result.summary
        new = DataSource.objects.get(integration=integration)
        assert new.pk != old.pk and new.tenant_key == "tenant:2" and new.display_name == "Other MSP"
        initial = SyncRun.objects.get(source=new)  # a new tenant's first passed test queues its full sync
        sync_run_execute(initial.pk)
        initial.refresh_from_db()
        assert initial.status == "succeeded" and initial.full_reconcile, initial.error
        assert _live_orgs(new) == 3
    old.refresh_from_db()
    assert old.integration_id is None and _live_orgs(old) == orgs  # kept, marked as from a removed integration


def test_newcomer_1_a_typo_in_company_name_moves_no_data(
    bms_integration, bms_sandbox, settings, admin_user, admin_client
):
    run_sync(bms_integration)
    source = DataSource.objects.get(integration=bms_integration)
    orgs = _live_orgs(source)
    cleaned = sandbox_settings_for(bms_sandbox, settings)
    integration = _save(admin_user, **{**cleaned, "company_name": "Wrong Co"})

    page = admin_client.get(reverse("integrations:list")).content.decode()
    assert 'data-testid="tenant-unconfirmed"' in page and f"<strong>{orgs}</strong> organizations" in page
    assert DataSource.objects.get(integration=integration).pk == source.pk and _live_orgs(source) == orgs
    response = admin_client.post(reverse("integrations:sync", args=["kaseya-bms"]))
    assert response.status_code == 302
    assert SyncRun.objects.filter(source=source).count() == 1  # only the first run: Sync Now was refused

    failed = integration_test_connection(integration=integration, actor=admin_user)
    assert not failed.passed and failed.tenant is None
    assert DataSource.objects.get(integration=integration).pk == source.pk

    integration = _save(admin_user, **cleaned)
    assert integration_test_connection(integration=integration, actor=admin_user).passed
    integration.refresh_from_db()
    assert integration.tenant_confirmed and DataSource.objects.get().pk == source.pk
    assert _live_orgs(source) == orgs


def test_the_settings_page_says_what_an_identity_change_does(bms_integration, admin_client):
    page = admin_client.get(reverse("integrations:settings", args=["kaseya-bms"])).content.decode()
    assert 'data-testid="tenant-change-note"' in page
    assert "Changing Server URL, Company Name or Username may point these settings at a different tenant" in page


def test_a_source_from_before_tenant_identity_is_rekeyed_not_duplicated(bms_sandbox, settings, admin_user):
    cleaned = sandbox_settings_for(bms_sandbox, settings)
    integration = _save(admin_user, **cleaned)
    legacy = DataSource.objects.create(
        provider_key="kaseya-bms",
        tenant_key=f"{urlsplit(bms_sandbox.url).netloc}|{bms_sandbox.tenant.lower()}",
        display_name="Demo MSP (old key)",
        integration=integration,
    )
    OrganizationFactory(source=legacy)
    assert integration_test_connection(integration=integration, actor=admin_user).passed
    legacy.refresh_from_db()
    assert (legacy.tenant_key, legacy.tenant_identified, legacy.integration_id) == ("tenant:1", True, integration.pk)
    assert DataSource.objects.count() == 1


def test_a_deleted_legacy_source_is_found_again_by_its_old_key(bms_sandbox, settings, admin_user):
    cleaned = sandbox_settings_for(bms_sandbox, settings)
    legacy = DataSource.objects.create(
        provider_key="kaseya-bms",
        tenant_key=f"{urlsplit(bms_sandbox.url).netloc}|{bms_sandbox.tenant.lower()}",
        display_name="Demo MSP (old key)",
    )
    integration = _save(admin_user, **cleaned)
    assert integration_test_connection(integration=integration, actor=admin_user).passed
    assert list(DataSource.objects.values_list("pk", "integration_id")) == [(legacy.pk, integration.pk)]
