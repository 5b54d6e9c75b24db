"""A per-source Redis lock with a short expiry kept alive by a heartbeat.

The lock only keeps two workers from doing the same work; correctness comes from the
database (one active SyncRun per source, checkpoints fenced by the run's worker token).
A worker that dies stops renewing, so its lock expires within SYNC_LOCK_TTL and a
redelivered task can take over.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from core.redis import get_redis

logger = logging.getLogger(__name__)

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class SyncLock:
    def __init__(self, source_id: int, *, on_heartbeat: Callable[[], None] | None = None):
        self.ttl_ms = int(settings.SYNC_LOCK_TTL.total_seconds() * 1000)
        self.heartbeat_seconds = self.ttl_ms / 4000
        self.key = f"portal:sync-lock:{source_id}"
        self.token = secrets.token_hex(16)
        self._on_heartbeat = on_heartbeat
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = threading.Event()

    def acquire(self) -> bool:
        if not get_redis().set(self.key, self.token, nx=True, px=self.ttl_ms):
            return False
        self._thread = threading.Thread(target=self._beat, name=f"sync-heartbeat-{self.key}", daemon=True)
        self._thread.start()
        return True

    def _beat(self) -> None:
        try:
            self._beat_until_stopped()
        finally:
            connection.close()  # this thread's own database connection

    def _beat_until_stopped(self) -> None:
        client = get_redis()
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                if not client.eval(_RENEW, 1, self.key, self.token, self.ttl_ms):
                    self.lost.set()
                    return
                if self._on_heartbeat:
                    self._on_heartbeat()
            except Exception:  # a missed beat is retried; expiry is the safety net
                logger.warning("Sync lock heartbeat failed for %s", self.key, exc_info=True)

    def release(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        get_redis().eval(_RELEASE, 1, self.key, self.token)
