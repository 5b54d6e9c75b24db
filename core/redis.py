"""Redis: one connection pool for locks and counters (on the cache's database), and the
cache backend."""

from functools import cache

import redis
from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_REDIS_URL, socket_timeout=10, socket_connect_timeout=5)


class _PooledClients(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class PortalRedisCache(RedisCache):
    """Django's Redis cache, keeping one client per connection pool. Django builds a new
    redis.Redis (and its table of reply callbacks) for every operation, a measurable share
    of a cached page's time. A redis.Redis is safe to share between threads."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _PooledClients
