"""Xero's per-organisation budget, shared by every worker through Redis.

Invariants:
- Xero allows an app, per organisation (tenant), 60 calls a rolling minute, 5,000 a rolling day
  and 5 at once. Every request any process sends to a tenant takes one slot of each in one Redis
  script (so two workers never both take the last one); a concurrency slot is a lease that the
  transport releases when the answer is read (``release``), and that expires by itself should
  the worker die.
- A 429 from Xero (its ``Retry-After``) blocks the tenant for every worker until then, not only
  for the client that received it.
- ``acquire`` waits while the wait is short (``max_wait``); a longer one raises
  ``XeroRateLimited`` with ``retry_after`` so a worker is not parked (the caller reschedules).
- Redis being unreachable never stops a request: the budget is a courtesy to Xero, whose own
  429s the transport still honours.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

import redis

from core.redis import get_redis

from .exceptions import RateLimitProblem, XeroRateLimited

logger = logging.getLogger("providers.xero")

MINUTE_LIMIT = 60
DAY_LIMIT = 5000
CONCURRENT_LIMIT = 5
# A concurrency slot outlives its request by at most this long when its worker dies.
LEASE_SECONDS = 120.0
# While another request holds the last concurrency slot, look again this often.
CONCURRENCY_POLL_SECONDS = 0.05

# KEYS: minute, day, concurrent, blocked. ARGV: now, minute limit, day limit, concurrent limit,
# lease seconds, member. Returns {1, "0", ""} when a slot was taken, else {0, wait, problem}.
# Numbers go back as strings: Redis would truncate a Lua float to an integer.
_ACQUIRE = """
local now = tonumber(ARGV[1])
redis.call('zremrangebyscore', KEYS[1], '-inf', now - 60)
redis.call('zremrangebyscore', KEYS[2], '-inf', now - 86400)
redis.call('zremrangebyscore', KEYS[3], '-inf', now)
local blocked = tonumber(redis.call('get', KEYS[4]) or '0')
if blocked > now then return {0, tostring(blocked - now), 'retry_after'} end
if redis.call('zcard', KEYS[3]) >= tonumber(ARGV[4]) then return {0, '-1', 'concurrent'} end
if redis.call('zcard', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('zrange', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + 60 - now), 'minute'}
end
if redis.call('zcard', KEYS[2]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('zrange', KEYS[2], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + 86400 - now), 'day'}
end
redis.call('zadd', KEYS[1], now, ARGV[6])
redis.call('zadd', KEYS[2], now, ARGV[6])
redis.call('zadd', KEYS[3], now + tonumber(ARGV[5]), ARGV[6])
redis.call('expire', KEYS[1], 120)
redis.call('expire', KEYS[2], 86460)
redis.call('expire', KEYS[3], math.ceil(tonumber(ARGV[5])) + 60)
return {1, '0', ''}
"""

# KEYS: blocked. ARGV: until (epoch seconds). Only ever moves the block later.
_BLOCK = """
local current = tonumber(redis.call('get', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('set', KEYS[1], ARGV[1], 'EX', math.ceil(tonumber(ARGV[2])) + 5)
end
return 1
"""


class XeroTenantBudget:
    """Implements the transport's RequestPacer (with ``release``) for one tenant. One instance
    per client (it remembers the slots its requests hold); any number of instances share the
    budget through Redis."""

    def __init__(
        self,
        tenant_id: str,
        *,
        max_wait: float = 60.0,
        minute_limit: int = MINUTE_LIMIT,
        day_limit: int = DAY_LIMIT,
        concurrent_limit: int = CONCURRENT_LIMIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.tenant_id = tenant_id
        self.max_wait = max_wait
        self.limits = (minute_limit, day_limit, concurrent_limit)
        self.clock = clock
        self.sleep = sleep
        self._held: list[str] = []
        prefix = f"portal:xero-budget:{tenant_id}"
        self.keys = (f"{prefix}:minute", f"{prefix}:day", f"{prefix}:concurrent", f"{prefix}:blocked")

    def acquire(self, endpoint_key: str) -> None:
        waited = 0.0
        while True:
            member = f"{self.clock():.6f}:{secrets.token_hex(6)}"
            try:
                taken, wait, problem = get_redis().eval(
                    _ACQUIRE, 4, *self.keys, repr(self.clock()), *self.limits, LEASE_SECONDS, member
                )
            except redis.RedisError:
                logger.warning("The Xero request budget is unavailable (Redis); sending %s unpaced", endpoint_key)
                return
            if taken:
                self._held.append(member)
                return
            seconds = float(wait)
            if seconds < 0:  # every concurrency slot is taken: one frees up as soon as an answer is read
                seconds = CONCURRENCY_POLL_SECONDS
            problem = problem.decode() if isinstance(problem, bytes) else str(problem)
            if problem in ("day",) or waited + seconds > self.max_wait:
                raise XeroRateLimited(
                    f"The Xero request budget of this organisation is spent ({_describe(problem)}); "
                    f"next call possible in {seconds:.0f} s.",
                    retry_after=max(seconds, 1.0),
                    problem=_problem(problem),
                )
            self.sleep(seconds)
            waited += seconds

    def release(self, endpoint_key: str, *, retry_after: float = 0.0) -> None:
        member = self._held.pop() if self._held else None
        try:
            client = get_redis()
            if member is not None:
                client.zrem(self.keys[2], member)
            if retry_after > 0:
                client.eval(_BLOCK, 1, self.keys[3], repr(self.clock() + retry_after), retry_after)
        except redis.RedisError:
            logger.warning("Could not release a Xero budget slot (Redis); its lease expires by itself")

    def usage(self) -> dict[str, int]:
        """Calls in the rolling minute and day, and in flight now (for tests and the card)."""
        now = self.clock()
        client = get_redis()
        return {
            "minute": client.zcount(self.keys[0], now - 60, "+inf"),
            "day": client.zcount(self.keys[1], now - 86400, "+inf"),
            "concurrent": client.zcount(self.keys[2], now, "+inf"),
        }


def _problem(name: str) -> RateLimitProblem:
    return {
        "minute": RateLimitProblem.MINUTE,
        "day": RateLimitProblem.DAY,
        "concurrent": RateLimitProblem.CONCURRENT,
    }.get(name, RateLimitProblem.UNKNOWN)


def _describe(problem: str) -> str:
    return {
        "minute": "60 calls a minute",
        "day": "5,000 calls a day",
        "concurrent": "5 calls at once",
        "retry_after": "Xero asked to wait",
    }.get(problem, problem)
