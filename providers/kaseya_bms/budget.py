"""The hourly request budget per BMS endpoint, shared by every worker through Redis.

BMS allows about 1,500 requests per endpoint per hour. Each request takes one unit from
a counter for (source, endpoint, clock hour); when the counter is spent the caller gets
BmsRateLimited with the seconds until the next hour, and the sync waits for it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from core.redis import get_redis
from providers.kaseya_bms.exceptions import BmsRateLimited

_TAKE = """
local used = redis.call('incr', KEYS[1])
if used == 1 then redis.call('expire', KEYS[1], ARGV[2]) end
if used > tonumber(ARGV[1]) then redis.call('decr', KEYS[1]) return 0 end
return 1
"""


class RedisHourlyBudget:
    """Implements the client's RequestPacer protocol."""

    def __init__(self, source_id: int, limit_per_hour: int, *, clock: Callable[[], float] = time.time):
        self.source_id = source_id
        self.limit = limit_per_hour
        self.clock = clock

    def _key(self, endpoint_key: str, hour: int) -> str:
        return f"portal:bms-budget:{self.source_id}:{hour}:{endpoint_key}"

    def acquire(self, endpoint_key: str) -> None:
        now = self.clock()
        hour = int(now // 3600)
        if not get_redis().eval(_TAKE, 1, self._key(endpoint_key, hour), self.limit, 3700):
            wait = (hour + 1) * 3600 - now
            raise BmsRateLimited(
                f"The hourly BMS request budget for {endpoint_key} ({self.limit}) is spent.", retry_after=wait
            )

    def used(self, endpoint_key: str) -> int:
        hour = int(self.clock() // 3600)
        return int(get_redis().get(self._key(endpoint_key, hour)) or 0)
