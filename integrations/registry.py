"""The one registry of integration providers, and the way to their installations.

A provider registers itself with ``@register`` when its Django app is ready. Callers ask
for the installation that offers a capability; they never name a provider or import its
package."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from integrations.models import DataSource, Integration

if TYPE_CHECKING:
    from integrations.base import Capability, Category, IntegrationInstallation, IntegrationProvider

_PROVIDERS: dict[str, IntegrationProvider] = {}


def register(provider_class: type[IntegrationProvider]) -> type[IntegrationProvider]:
    provider = provider_class()
    if provider.key in _PROVIDERS:
        raise ValueError(f"Integration provider {provider.key!r} is registered twice.")
    _PROVIDERS[provider.key] = provider
    return provider_class


def all_providers() -> list[IntegrationProvider]:
    return sorted(_PROVIDERS.values(), key=lambda p: (p.order, p.name))


def get_provider(key: str) -> IntegrationProvider:
    return _PROVIDERS[key]


def get_provider_or_404(key: str) -> IntegrationProvider:
    try:
        return _PROVIDERS[key]
    except KeyError:
        raise Http404("No such integration.") from None


def providers_offering(capability: Capability, *, category: Category | None = None) -> list[IntegrationProvider]:
    return [
        provider
        for provider in all_providers()
        if capability in provider.capabilities and (category is None or provider.category == category)
    ]


def installation_of(integration: Integration) -> IntegrationInstallation:
    return get_provider(integration.provider_key).installation(integration)


def installation_offering(
    capability: Capability, *, category: Category | None = None, connected: bool = False
) -> IntegrationInstallation | None:
    """The configured installation that offers ``capability`` (the first by provider order),
    or None. ``connected``: only one that has worked (a passed test or a successful sync)."""
    keys = [provider.key for provider in providers_offering(capability, category=category)]
    if not keys:
        return None
    by_key = {
        i.provider_key: i for i in Integration.objects.select_related("data_source").filter(provider_key__in=keys)
    }
    for key in keys:
        integration = by_key.get(key)
        if integration is None:
            continue
        installation = installation_of(integration)
        if not connected or installation.is_connected:
            return installation
    return None


def installation_for_source(source: DataSource, capability: Capability) -> IntegrationInstallation | None:
    """The installation records of ``source`` came from, if it is still configured and offers
    ``capability``."""
    if source.integration_id is None or source.provider_key not in _PROVIDERS:
        return None
    installation = installation_of(source.integration)
    return installation if installation.offers(capability) else None
