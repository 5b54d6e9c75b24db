"""Redis: one connection pool for locks and counters (on the cache's database), and the
cache backend.

Invariants: no Redis call waits longer than REDIS_CONNECT_TIMEOUT to connect or
REDIS_READ_TIMEOUT for an answer. The cache backend also remembers, per process, that
Redis failed: for REDIS_DOWN_PAUSE_SECONDS after a connection error or a timeout every
cache call raises `RedisUnavailable` at once instead of waiting again, so a page that
makes several cache calls while Redis hangs waits at most one timeout. Callers that can do
without the cache (the session store, the client invoice lists) catch `REDIS_DOWN`; any
other page answers 503 (core.middleware.RedisUnavailableMiddleware).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.connection import Connection, SSLConnection, UnixDomainSocketConnection

logger = logging.getLogger(__name__)


class RedisUnavailable(redis.exceptions.ConnectionError):
    """Redis failed a moment ago; not tried again until the pause is over."""


# What "Redis is down or hanging" looks like to a caller (RedisUnavailable is a ConnectionError).
REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def timeouts() -> dict[str, float]:
    """Connect and read timeouts for every Redis client (redis-py keyword arguments)."""
    return {
        "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT,
        "socket_timeout": settings.REDIS_READ_TIMEOUT,
    }


@cache
def get_redis() -> redis.Redis:
    """Locks and counters (sync locks, BMS request budgets): timeouts, but no pause after a
    failure, so a sync's lock renewal retries at its own pace."""
    return redis.Redis.from_url(settings.CACHE_REDIS_URL, **timeouts())


# --- remembering that Redis is down ---------------------------------------------------------------

_down_until: dict[str, float] = {}
_down_lock = threading.Lock()


class _PausesAfterFailure:
    """Mixed into a redis-py connection class: a connection error or timeout marks the
    server down for REDIS_DOWN_PAUSE_SECONDS, during which calls fail at once."""

    def _server(self) -> str:
        return getattr(self, "path", "") or f"{getattr(self, 'host', '')}:{getattr(self, 'port', '')}"

    def _refuse_while_down(self) -> None:
        until = _down_until.get(self._server())
        if until is not None and time.monotonic() < until:
            self.disconnect()
            raise RedisUnavailable(f"Redis at {self._server()} did not answer a moment ago; not tried again yet.")

    def _mark_down(self, exc: Exception) -> None:
        if isinstance(exc, RedisUnavailable):
            return
        pause = settings.REDIS_DOWN_PAUSE_SECONDS
        with _down_lock:
            _down_until[self._server()] = time.monotonic() + pause
        logger.warning("Redis at %s is unavailable (%s); the cache is skipped for %ss.", self._server(), exc, pause)

    def connect_check_health(self, *args, **kwargs):
        self._refuse_while_down()
        try:
            return super().connect_check_health(*args, **kwargs)
        except REDIS_DOWN as exc:
            self._mark_down(exc)
            raise

    def send_packed_command(self, *args, **kwargs):
        self._refuse_while_down()
        try:
            return super().send_packed_command(*args, **kwargs)
        except REDIS_DOWN as exc:
            self._mark_down(exc)
            raise

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except REDIS_DOWN as exc:
            self._mark_down(exc)
            raise


class _PausingConnection(_PausesAfterFailure, Connection):
    pass


class _PausingSSLConnection(_PausesAfterFailure, SSLConnection):
    pass


class _PausingUnixConnection(_PausesAfterFailure, UnixDomainSocketConnection):
    pass


def _pausing_connection_class(url: str) -> type[Connection]:
    scheme = urlsplit(url).scheme
    if scheme == "rediss":
        return _PausingSSLConnection
    if scheme == "unix":
        return _PausingUnixConnection
    return _PausingConnection


# --- the cache backend -----------------------------------------------------------------------------


class _PooledClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def _get_connection_pool(self, write):
        index = self._get_connection_pool_index(write)
        if index not in self._pools:
            server = self._servers[index]
            options = {**timeouts(), **self._pool_options, "connection_class": _pausing_connection_class(server)}
            self._pools[index] = self._pool_class.from_url(server, **options)
        return self._pools[index]

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class PortalRedisCache(RedisCache):
    """Django's Redis cache, keeping one client per connection pool, with timeouts and a
    pause after a failure (see the module docstring). Django builds a new redis.Redis (and
    its table of reply callbacks) for every operation, a measurable share of a cached page's
    time. A redis.Redis is safe to share between threads."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _PooledClients
