"""The Stripe request rate, shared by every process: at most ``rate`` requests in any one
second per account (Stripe allows 25 in test mode, 100 in live mode).

Invariants:
- A request is let go only when fewer than ``limit`` were let go in the second before it
  (a sliding one-second log), checked and recorded atomically at the moment it goes: one Lua
  script in Redis, on Redis's clock, so every worker and web process on every host takes from
  the same log. A caller refused sleeps until the oldest entry leaves the second, then asks
  again.
- ``limit`` is nine tenths of ``rate`` (22 of 25): processes paused between being let go and
  sending (a busy machine) still cannot make more than ``rate`` arrive within one second.
- Waiting longer than ``max_wait`` in all raises ``StripeRateLimited`` (transient, with
  ``retry_after``) instead, so a worker is not parked; the caller's task retries.
- Without Redis (``redis`` None), or while Redis fails, the same log is kept in process (this
  process's requests only): a Redis outage slows nothing and stops no payment.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from collections.abc import Callable

from redis.exceptions import RedisError

from providers.stripe.exceptions import StripeRateLimited

DEFAULT_RATE = 25.0
HEADROOM = 0.9  # of the rate, let go per second: the rest absorbs processes sending late
WINDOW_SECONDS = 1.0

# KEYS: the log. ARGV: window (s), limit, member. Returns "0" when let go (and logged), else
# the seconds until the oldest logged request leaves the window.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(math.max(0.001, tonumber(oldest[2]) + window - now))
"""


class RequestPacer:
    """``pacer(endpoint_key)`` for StripeGateway: returns when the request may be sent."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        redis=None,
        key: str = "stripe:requests",
        max_wait: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate < 1:
            raise ValueError("rate must be at least 1 request per second")
        self.limit = max(1, int(rate * HEADROOM))
        self.max_wait = max_wait
        self._key = key
        self._clock = clock
        self._sleep = sleep
        self._script = redis.register_script(_TAKE) if redis is not None else None
        self._members = (f"{os.getpid()}:{id(self)}:{n}" for n in itertools.count())
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def _take(self) -> float:
        if self._script is not None:
            try:
                return float(self._script(keys=[self._key], args=[WINDOW_SECONDS, self.limit, next(self._members)]))
            except RedisError:
                pass  # kept in process until Redis answers again
        with self._lock:
            now = self._clock()
            while self._sent and self._sent[0] <= now - WINDOW_SECONDS:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return 0.0
            return max(0.001, self._sent[0] + WINDOW_SECONDS - now)

    def __call__(self, endpoint_key: str) -> None:
        waited = 0.0
        while True:
            wait = self._take()
            if wait <= 0:
                return
            if waited + wait > self.max_wait:
                raise StripeRateLimited(
                    f"Stripe's request rate stayed taken for {waited:.0f} s.", retry_after=int(wait) + 1
                )
            self._sleep(wait)
            waited += wait
