"""The BMS request budget per endpoint and tenant, shared by every process through Redis.

BMS allows about 1,500 requests per endpoint per hour and does not say that its hour is a
clock hour, so the budget counts over a sliding hour: a request is admitted while fewer
than the limit were sent in the 3,600 seconds before it. Each request is a member of a
Redis sorted set scored by its time; one Lua script trims, counts and adds atomically, so
every worker and web process takes from the same budget.

Two priorities share it. People waiting on a page (``INTERACTIVE``: invoice PDFs, ticket
lookups, notifications, Test Connection) and the sync (``BACKGROUND``) may each spend at
most nine tenths of an endpoint's hour: the sync never starves an interactive fetch, and
interactive fetches never spend the last tenth the sync needs to finish. Together they never
pass the limit. A request that is not admitted raises BmsRateLimited with the seconds until
the oldest counted request leaves the window.
"""

from __future__ import annotations

import enum
import itertools
import os
import time
from collections.abc import Callable

from providers.kaseya_bms.exceptions import BmsRateLimited

WINDOW_SECONDS = 3600
CLASS_SHARE = 0.9  # the most one priority may spend of an endpoint's hour


class Priority(enum.StrEnum):
    INTERACTIVE = "interactive"
    BACKGROUND = "background"


# KEYS: all requests of the endpoint, this priority's requests. ARGV: now, window, limit,
# class limit, member. Returns 0 when admitted, else the seconds to wait.
_TAKE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local limit, class_limit = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - window)
redis.call('zremrangebyscore', KEYS[2], '-inf', now - window)
local total, mine = redis.call('zcard', KEYS[1]), redis.call('zcard', KEYS[2])
if total < limit and mine < class_limit then
  redis.call('zadd', KEYS[1], now, ARGV[5])
  redis.call('zadd', KEYS[2], now, ARGV[5])
  redis.call('expire', KEYS[1], window + 60)
  redis.call('expire', KEYS[2], window + 60)
  return '0'
end
local key = KEYS[1]
local rank = total - limit
if total < limit then key, rank = KEYS[2], mine - class_limit end
local oldest = redis.call('zrange', key, rank, rank, 'WITHSCORES')
return tostring(math.max(tonumber(oldest[2]) + window - now, 0.001))
"""

_sequence = itertools.count()


class SlidingHourBudget:
    """Implements the BMS client's RequestPacer protocol for one tenant and one priority."""

    def __init__(
        self,
        redis,
        tenant: str,
        limit_per_hour: int,
        *,
        priority: Priority = Priority.INTERACTIVE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis
        self.tenant = tenant
        self.limit = limit_per_hour
        self.class_limit = max(1, int(limit_per_hour * CLASS_SHARE))
        self.priority = priority
        self.clock = clock

    def _keys(self, endpoint_key: str) -> tuple[str, str]:
        base = f"portal:bms-budget:{self.tenant}:{endpoint_key}"
        return base, f"{base}:{self.priority}"

    def acquire(self, endpoint_key: str) -> None:
        member = f"{os.getpid()}:{next(_sequence)}:{time.monotonic_ns()}"
        now = self.clock()
        wait = float(
            self.redis.eval(
                _TAKE, 2, *self._keys(endpoint_key), now, WINDOW_SECONDS, self.limit, self.class_limit, member
            )
        )
        if wait > 0:
            raise BmsRateLimited(
                f"The BMS request budget for {endpoint_key} ({self.limit} an hour) is spent.", retry_after=wait
            )

    def used(self, endpoint_key: str) -> int:
        """Requests of any priority counted in the last hour."""
        key = self._keys(endpoint_key)[0]
        return int(self.redis.zcount(key, self.clock() - WINDOW_SECONDS, "+inf"))
