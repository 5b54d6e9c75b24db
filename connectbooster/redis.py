"""One Redis connection pool for locks and counters (on the cache's database)."""

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CACHE_REDIS_URL, socket_timeout=10, socket_connect_timeout=5)
