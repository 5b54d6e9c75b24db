"""Counting attempts per key over a window of time, in the database, shared by every process.

Invariants: a window opens at a key's first attempt and lasts `window_seconds`; within it
the count only grows (or is cleared by the caller); an expired window counts 0. Keys are
digests, so no e-mail address or IP address is stored. The counters live in the database,
not in Redis: sign-in already needs the database, so the throttles keep holding while Redis
is down instead of failing open (unlimited guessing) or closed (nobody can sign in).
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import AttemptCounter

# One attempt in this many also deletes every expired window.
_PURGE_ONE_IN = 50


def throttle_key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def address_bucket(address: str) -> str:
    """What one client controls: its IPv4 address, or the /64 of an IPv6 address (one
    household or server is given a whole /64 and could rotate through it)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def attempts(key: str) -> int:
    count = (
        AttemptCounter.objects.filter(key=key, expires_at__gt=timezone.now()).values_list("count", flat=True).first()
    )
    return count or 0


def attempt_record(*, key: str, window_seconds: int) -> int:
    """Count one attempt; returns the count in the current window, this one included."""
    now = timezone.now()
    if random.randrange(_PURGE_ONE_IN) == 0:
        AttemptCounter.objects.filter(expires_at__lte=now).delete()
    for _ in range(3):
        if AttemptCounter.objects.filter(key=key, expires_at__gt=now).update(count=F("count") + 1):
            return attempts(key)
        try:
            with transaction.atomic():
                AttemptCounter.objects.filter(key=key, expires_at__lte=now).delete()
                AttemptCounter.objects.create(key=key, count=1, expires_at=now + timedelta(seconds=window_seconds))
            return 1
        except IntegrityError:  # another process opened the window first: count in it
            continue
    return attempts(key)


def attempts_clear(key: str) -> None:
    AttemptCounter.objects.filter(key=key).delete()
