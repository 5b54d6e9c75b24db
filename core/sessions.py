"""Sessions in the database, with a copy in the cache (Redis) to spare a query per request.

Invariants: the database row is the truth and is always written first; the cache copy is
only an accelerator. With Redis down, sessions are read from and written to the database
and pages work. The one thing that needs Redis is ending a session (sign-out, or signing
in over another account's session): a cached copy left behind would bring the session
back when Redis returns, so the cached copy is deleted first, and when that fails nothing
is changed and the caller gets `RedisUnavailable` (a 503 page saying to try again).
"""

from __future__ import annotations

import contextlib
import logging

from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore

from core.redis import REDIS_DOWN

logger = logging.getLogger(__name__)


class SessionStore(CachedDBStore):
    def load(self):
        try:
            data = self._cache.get(self.cache_key)
        except REDIS_DOWN:
            data = None
        except Exception:
            # As Django's: an invalid key for the backend resets the session (#17810).
            data = None
        if data is not None:
            return data
        row = self._get_session_from_db()
        if not row:
            return {}
        data = self.decode(row.session_data)
        with contextlib.suppress(*REDIS_DOWN):  # read from the database again next time
            self._cache.set(self.cache_key, data, self.get_expiry_age(expiry=row.expire_date))
        return data

    def exists(self, session_key):
        if not session_key:
            return False
        try:
            if (self.cache_key_prefix + session_key) in self._cache:
                return True
        except REDIS_DOWN:
            pass
        return super(CachedDBStore, self).exists(session_key)

    def save(self, must_create=False):
        super(CachedDBStore, self).save(must_create)  # the database row first: the truth
        try:
            self._cache.set(self.cache_key, self._session, self.get_expiry_age())
        except REDIS_DOWN:
            # The copy from before this write (if any) may be stale: it holds only what this
            # session held before, never another user's data, and expires with the session.
            logger.info("Session saved to the database only: Redis is unavailable.")

    def delete(self, session_key=None):
        # Also called by cycle_key() on sign-in for the pre-sign-in key, whose cached copy
        # holds no sign-in: losing it to an outage is harmless. flush() is the strict one.
        super(CachedDBStore, self).delete(session_key)
        if session_key is None:
            if self.session_key is None:
                return
            session_key = self.session_key
        try:
            self._cache.delete(self.cache_key_prefix + session_key)
        except REDIS_DOWN:
            logger.warning("Could not drop the cached copy of a deleted session: Redis is unavailable.")

    def flush(self):
        """End the session: the cached copy goes first, or nothing happens (RedisUnavailable)."""
        if self.session_key is not None:
            self._cache.delete(self.cache_key)  # raises when Redis is down: the session stays whole
        super().flush()
