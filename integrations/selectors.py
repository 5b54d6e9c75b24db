from __future__ import annotations

from dataclasses import dataclass

from integrations.base import IntegrationProvider
from integrations.models import ACTIVE_SYNC_STATUSES, DataSource, Integration, SyncRun, SyncStatus
from integrations.registry import all_providers, get_provider, installation_of


@dataclass(frozen=True)
class IntegrationCard:
    provider: IntegrationProvider
    integration: Integration | None
    source: DataSource | None = None
    active_run: SyncRun | None = None
    last_run: SyncRun | None = None
    record_counts: dict[str, int] | None = None

    @property
    def state(self) -> str:
        """Not configured, Syncing, Connected, Error or Not tested: what the card shows."""
        if self.integration is None:
            return "not_configured"
        if self.active_run is not None:
            return "syncing"
        return self.integration.status


def synced_record_counts(integration: Integration, source: DataSource) -> dict[str, int]:
    installation = installation_of(integration)
    return {entity.label: entity.live_count(source) for entity in installation.synced_entities()}


def integration_card(provider: IntegrationProvider, integration: Integration | None) -> IntegrationCard:
    source = getattr(integration, "data_source", None) if integration else None
    if source is None or not provider.can_sync:
        return IntegrationCard(provider, integration)
    runs = SyncRun.objects.filter(source=source)
    return IntegrationCard(
        provider,
        integration,
        source=source,
        active_run=runs.filter(status__in=ACTIVE_SYNC_STATUSES).first(),
        last_run=runs.filter(status__in=[SyncStatus.SUCCEEDED, SyncStatus.FAILED]).order_by("-finished_at").first(),
        record_counts=synced_record_counts(integration, source),
    )


def integration_cards() -> list[IntegrationCard]:
    """One card per registered provider, configured or not."""
    configured = {i.provider_key: i for i in Integration.objects.select_related("data_source")}
    return [integration_card(provider, configured.get(provider.key)) for provider in all_providers()]


def integration_card_for(provider_key: str) -> IntegrationCard:
    provider = get_provider(provider_key)
    integration = Integration.objects.select_related("data_source").filter(provider_key=provider.key).first()
    return integration_card(provider, integration)


def reconcilable_provider_keys() -> list[str]:
    """Providers whose configured installation syncs: Sync history offers them a full reconcile."""
    configured = set(Integration.objects.values_list("provider_key", flat=True))
    return [p.key for p in all_providers() if p.can_sync and p.key in configured]
