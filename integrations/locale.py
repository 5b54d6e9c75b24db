"""The tenant's locale: how every page, e-mail and PDF shows money and dates.

The PSA tenant's facts (currency, culture, date format), as its Test Connection stored them
on its data source; before any tenant has said, ``PORTAL_CURRENCY``, en-US and ISO dates.

Read on every page that shows an amount, so it is kept in the process for
``CACHE_SECONDS`` (no query per request): a change reaches other processes within that
time. Test Connection storing new facts forgets them at once in its process and marks the
cached client lists stale (``synced_records_changed``); those lists' keys carry the facts too.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.db.models import F

from core.formats import FALLBACK_CULTURE, ISO_DATE_FORMAT, LocaleFacts
from integrations.base import Category
from integrations.models import DataSource
from integrations.registry import all_providers

CACHE_SECONDS = 60.0
_cached: tuple[float, LocaleFacts] | None = None


def fallback_locale() -> LocaleFacts:
    """Before any tenant has said how it shows money and dates."""
    return LocaleFacts(currency=settings.PORTAL_CURRENCY, culture=FALLBACK_CULTURE, date_format=ISO_DATE_FORMAT)


def _read() -> LocaleFacts:
    psa_keys = [provider.key for provider in all_providers() if provider.category == Category.PSA]
    # The connected PSA's source first; else one whose integration was removed (its records stay).
    row = (
        DataSource.objects.filter(provider_key__in=psa_keys)
        .exclude(currency_code="")
        .order_by(F("integration_id").asc(nulls_last=True), "pk")
        .values_list("currency_code", "culture_code", "date_format")
        .first()
    )
    if row is None:
        return fallback_locale()
    currency, culture, date_format = row
    return LocaleFacts(currency=currency, culture=culture or FALLBACK_CULTURE, date_format=date_format)


def tenant_locale() -> LocaleFacts:
    """The tenant's locale facts (cached in the process for ``CACHE_SECONDS``)."""
    global _cached
    cached = _cached
    now = time.monotonic()
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        return cached[1]
    facts = _read()
    _cached = (now, facts)
    return facts


def tenant_currency() -> str:
    return tenant_locale().currency


def forget_tenant_locale() -> None:
    """Read the facts again on next use (a data source was saved; a test changed them)."""
    global _cached
    _cached = None
