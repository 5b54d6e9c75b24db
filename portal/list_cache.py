"""Rendered client invoice lists, kept in the cache until the invoices change.

Every contact of an organization sees the same list for the same filters, and invoices only
change when a sync writes them, so a list is rendered once and served from Redis until
then. One version number covers them all: anything that changes invoices or organizations
bumps it, and a list kept under an older version is rendered again. "Past due" moves with
the clock, so keys carry today's date and a list is kept 15 minutes at most: a badge is
never more than that late.

With Redis down or hanging (core.redis), lists are rendered for every request and the page
works. A change made meanwhile cannot bump the version: lists cached before the outage may
be served for up to TIMEOUT_SECONDS once Redis is back (the same 15-minute bound).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable

from django.core.cache import cache
from django.utils import timezone

from core.redis import REDIS_DOWN
from integrations.locale import tenant_locale

logger = logging.getLogger(__name__)

VERSION_KEY = "client-invoice-lists:version"
# A bound on staleness should a change ever bypass `invalidate` (a manual SQL fix, say).
TIMEOUT_SECONDS = 15 * 60


def _new_version() -> int:
    # Never reuses an older number should the key be evicted: lists cached under it are stale.
    return time.time_ns()


def invalidate() -> None:
    try:
        try:
            cache.incr(VERSION_KEY)
        except ValueError:  # no version yet (or evicted)
            cache.set(VERSION_KEY, _new_version(), timeout=None)
    except REDIS_DOWN as exc:
        logger.warning("Could not mark cached client invoice lists stale (Redis unavailable: %s).", exc)


def rendered(scope: str, organization_id: int | None, params: tuple, render: Callable[[], str]) -> str:
    """The list's HTML: from the cache when rendered under the current version, else
    `render()`ed and kept. One round trip to Redis on a hit; rendered each time while
    Redis is unavailable."""
    # The tenant's currency and formats are in the key: a process that learns of a change
    # never serves a list another rendered the old way.
    digest = hashlib.blake2b(repr((params, tenant_locale().key)).encode(), digest_size=12).hexdigest()
    key = f"{scope}:{organization_id}:{timezone.localdate().isoformat()}:{digest}"
    try:
        found = cache.get_many([VERSION_KEY, key])
        version = found.get(VERSION_KEY)
        if version is None:
            cache.add(VERSION_KEY, _new_version(), timeout=None)
            version = cache.get(VERSION_KEY)
    except REDIS_DOWN:
        return render()
    cached = found.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    html = render()
    with contextlib.suppress(*REDIS_DOWN):
        cache.set(key, (version, html), timeout=TIMEOUT_SECONDS)
    return html
