from __future__ import annotations

from dataclasses import dataclass

from integrations.models import Integration
from integrations.providers.base import IntegrationProvider
from integrations.registry import all_providers


@dataclass(frozen=True)
class IntegrationCard:
    provider: IntegrationProvider
    integration: Integration | None


def integration_cards() -> list[IntegrationCard]:
    """One card per registered provider, configured or not."""
    configured = {i.provider_key: i for i in Integration.objects.all()}
    return [IntegrationCard(provider, configured.get(provider.key)) for provider in all_providers()]
