"""Integration use cases: save settings, test the connection, delete."""

from __future__ import annotations

import contextlib
import logging

from django.db import transaction
from django.utils import timezone

from accounts.audit import field_changes
from accounts.models import User
from accounts.services import audit_record
from core.formats import LocaleFacts
from integrations.base import Capability, ConnectionTestResult, IntegrationProvider, TenantIdentity
from integrations.capabilities import AccessReleased
from integrations.locale import forget_tenant_locale
from integrations.models import DataSource, Integration, IntegrationStatus, SyncTrigger
from integrations.registry import installation_of
from integrations.secrets import SecretUnreadable
from integrations.signals import synced_records_changed
from integrations.sync.service import SyncAlreadyRunning, sync_cancel_active, sync_request

logger = logging.getLogger(__name__)


@transaction.atomic
def integration_save_settings(*, provider: IntegrationProvider, actor: User, cleaned_data: dict) -> Integration:
    """Create or update the provider's integration. An empty secret keeps the stored one."""
    integration = Integration.objects.select_for_update().filter(provider_key=provider.key).first()
    created = integration is None
    if created:
        integration = Integration(provider_key=provider.key, created_by=actor)
    config = {name: value for name, value in cleaned_data.items() if name not in provider.secret_fields}
    identity_before = {name: integration.config.get(name) for name in provider.identity_fields}
    changed_fields = sorted(name for name, value in config.items() if integration.config.get(name) != value)
    secrets_set = [
        name for name in provider.secret_fields if _secret_differs(integration, name, cleaned_data.get(name))
    ]
    labels = {name: str(field.label or name) for name, field in provider.settings_form_class().base_fields.items()}
    # Stored settings no field shows (derived ones, e.g. Stripe's mode) are named after their key.
    labels.update({name: name.replace("_", " ").capitalize() for name in config if name not in labels})
    changes = field_changes(integration.config, config, labels=labels, secrets_changed=secrets_set)
    integration.config = config
    for name in secrets_set:
        integration.set_secret(name, cleaned_data[name])
        changed_fields.append(name)
    if changed_fields or created:
        # New settings have not been tested yet: the last test's checks stay, shown as from
        # before the change ("not tested since the settings changed"), neither passed nor failed.
        integration.status = IntegrationStatus.CONFIGURED
        integration.status_detail = ""
        integration.last_test_passed = None
    if created or identity_before != {name: config.get(name) for name in provider.identity_fields}:
        # These settings may reach another tenant: nothing syncs until Test Connection says which.
        integration.tenant_confirmed = False
    integration.save()
    if created or changes:  # a save that changed nothing is not worth an entry
        audit_record(
            actor=actor,
            action="integration.saved",
            target=provider.name,
            summary=f"{'Added' if created else 'Updated'} {provider.name} settings",
            created=created,
            changes=changes,  # old → new for plain fields; a secret only as "changed"
        )
    return integration


def _secret_differs(integration: Integration, name: str, value: str | None) -> bool:
    """A secret was entered and is not the one stored (an empty field keeps the stored one)."""
    if not value:
        return False
    if integration.pk is None or not integration.has_secret(name):
        return True
    try:
        return integration.get_secret(name) != value
    except SecretUnreadable:  # stored under a retired key: the new one replaces it
        return True


def data_source_link(*, integration: Integration, tenant: TenantIdentity) -> DataSource:
    """Link the integration to the data source of the tenant Test Connection identified.

    The same tenant keeps its source whatever URL reaches it, and added again after a delete it
    gets its records back by their ids. A source from before tenant identity (its key derived
    from the settings) is the one this integration synced: it is rekeyed, not duplicated."""
    with transaction.atomic():
        sources = DataSource.objects.select_for_update().filter(provider_key=integration.provider_key)
        source = sources.filter(tenant_key=tenant.key).first()
        if source is None:
            source = sources.filter(integration=integration, tenant_identified=False).first()
        if source is None:
            legacy_key = installation_of(integration).settings_tenant_key()
            source = sources.filter(tenant_key=legacy_key, tenant_identified=False, integration=None).first()
        if source is None:
            source = DataSource(provider_key=integration.provider_key)
        source.tenant_key, source.tenant_identified, source.display_name = tenant.key, True, tenant.display_name
        locale_changed = tenant.locale is not None and _locale_store(source, tenant.locale)
        if source.integration_id != integration.pk:
            sources.filter(integration=integration).exclude(pk=source.pk).update(integration=None)
            source.integration = integration
        source.save()
        Integration.objects.filter(pk=integration.pk).update(tenant_confirmed=True)
        integration.tenant_confirmed = True
        if locale_changed:
            source_id = source.pk
            transaction.on_commit(forget_tenant_locale)
            # Pages rendered and kept with the former currency or formats go stale.
            transaction.on_commit(lambda: synced_records_changed.send(sender=DataSource, source_id=source_id))
    return source


def _locale_store(source: DataSource, locale: LocaleFacts) -> bool:
    """Keep what the vendor said of the tenant's currency and formats (a fact it leaves out
    keeps its former value); True when anything changed."""
    said = {"currency_code": locale.currency, "culture_code": locale.culture, "date_format": locale.date_format}
    changed = False
    for name, value in said.items():
        if value and getattr(source, name) != value:
            setattr(source, name, value)
            changed = True
    return changed


def integration_test_connection(*, integration: Integration, actor: User | None) -> ConnectionTestResult:
    """Run the provider's checks (outside any transaction: they make HTTP requests)."""
    installation = installation_of(integration)
    provider = installation.provider
    result = installation.test_connection()
    integration.last_test_at = timezone.now()
    integration.last_test_passed = result.passed
    integration.last_test_checks = result.as_json()
    if result.passed:
        integration.status = IntegrationStatus.CONNECTED
        integration.status_detail = ""
    else:
        integration.status = IntegrationStatus.ERROR
        integration.status_detail = result.summary[:500]
    integration.save(
        update_fields=["last_test_at", "last_test_passed", "last_test_checks", "status", "status_detail", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="integration.tested",
        target=provider.name,
        summary=f"Test Connection {'passed' if result.passed else 'failed'}",
        result="passed" if result.passed else "failed",
        failed_areas=[check["label"] for check in result.as_json() if check["passed"] is False],
    )
    logger.info("Test Connection for %s: %s", provider.key, "passed" if result.passed else "failed")
    if not (result.passed and result.tenant):
        return result
    source = data_source_link(integration=integration, tenant=result.tenant)
    if provider.can_sync and source.last_success_at is None:
        # The first successful Save + Test Connection starts the initial (full) sync.
        with contextlib.suppress(SyncAlreadyRunning):
            sync_request(integration=integration, trigger=SyncTrigger.INITIAL)
    return result


def integration_delete(*, integration: Integration, actor: User) -> AccessReleased | None:
    """Delete the integration and its credentials; synced records are kept. An installation that can
    give its access up at the vendor (revoke its grant) does so first, best effort: the delete
    proceeds whatever the vendor says. Returns what the release did (None: nothing to release)."""
    provider = integration.provider
    installation = installation_of(integration)
    released = None
    if installation.offers(Capability.RELEASE_ACCESS):
        released = installation.release_access()  # type: ignore[attr-defined]  # a vendor call: outside the transaction
    with transaction.atomic():
        source = getattr(integration, "data_source", None)
        if source is not None:
            sync_cancel_active(source=source)
        # The data source stays (unlinked): its synced records are kept.
        integration.delete()
        summary = f"Deleted the {provider.name} integration and its credentials"
        audit_record(
            actor=actor,
            action="integration.deleted",
            target=provider.name,
            summary=f"{summary}. {released.message}" if released and released.message else summary,
        )
    return released
