"""The one registry of integration providers. A provider registers itself with
``@register`` when its module is imported (IntegrationsConfig.ready imports them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

if TYPE_CHECKING:
    from integrations.providers.base import IntegrationProvider

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
