"""Client-side pacing for the BMS budget of 1,500 calls per hour per endpoint.

BMS documents the limit but no rate-limit headers, so the client must throttle
itself. The client calls ``pacer.acquire(endpoint_key)`` before every HTTP request
it sends; the key is the method and path template, e.g. ``"GET /v2/crm/accounts/summary"``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .exceptions import BmsRateLimited

BMS_HOURLY_LIMIT = 1500
WINDOW_SECONDS = 3600.0


@runtime_checkable
class RequestPacer(Protocol):
    def acquire(self, endpoint_key: str) -> None:
        """Return when a request to ``endpoint_key`` may be sent.

        May sleep; raises :class:`BmsRateLimited` (with ``retry_after``) when the budget is
        spent for longer than the pacer is willing to wait.
        """
        ...


class LocalHourlyPacer:
    """In-process sliding one-hour window per endpoint key.

    Waits up to ``max_wait`` seconds for a slot; beyond that raises ``BmsRateLimited`` so a
    worker is not parked for most of an hour (the caller reschedules instead).
    """

    def __init__(
        self,
        limit_per_hour: int = BMS_HOURLY_LIMIT,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        window_seconds: float = WINDOW_SECONDS,
    ) -> None:
        if limit_per_hour < 1:
            raise ValueError("limit_per_hour must be at least 1")
        self.limit_per_hour = limit_per_hour
        self.window_seconds = window_seconds
        self.max_wait = max_wait
        self._clock = clock
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, endpoint_key: str) -> None:
        while True:
            wait = self._try_acquire(endpoint_key)
            if wait <= 0:
                return
            if wait > self.max_wait:
                raise BmsRateLimited(
                    f"Hourly BMS request budget for {endpoint_key} is spent; next slot in {wait:.0f} s",
                    retry_after=wait,
                )
            self._sleep(wait)

    def used(self, endpoint_key: str) -> int:
        """Requests to ``endpoint_key`` within the current window."""
        with self._lock:
            stamps = self._sent.get(endpoint_key, deque())
            self._expire(stamps, self._clock())
            return len(stamps)

    def _try_acquire(self, endpoint_key: str) -> float:
        """Take a slot and return 0, or return the seconds until one frees up."""
        with self._lock:
            now = self._clock()
            stamps = self._sent.setdefault(endpoint_key, deque())
            self._expire(stamps, now)
            if len(stamps) < self.limit_per_hour:
                stamps.append(now)
                return 0.0
            return max(stamps[0] + self.window_seconds - now, 1e-3)

    def _expire(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self.window_seconds:
            stamps.popleft()
