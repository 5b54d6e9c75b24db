"""Sign-in rate limiting: failed attempts are counted per e-mail and per client IP in
the shared cache (Redis), so the limit holds across every web process."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache


def _keys(email: str, ip: str) -> list[str]:
    digest = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    return [f"login-fail:email:{digest}", f"login-fail:ip:{ip}"]


def is_locked_out(email: str, ip: str) -> bool:
    return any((cache.get(key) or 0) >= settings.LOGIN_FAILURE_LIMIT for key in _keys(email, ip))


def record_failure(email: str, ip: str) -> None:
    for key in _keys(email, ip):
        # add() starts the window; incr() keeps its expiry.
        if not cache.add(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS):
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=settings.LOGIN_LOCKOUT_SECONDS)


def clear_failures(email: str, ip: str) -> None:
    cache.delete_many(_keys(email, ip))
