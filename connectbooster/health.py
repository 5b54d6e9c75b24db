"""Liveness (/healthz) and readiness (/readyz).

Invariants:
- /healthz touches nothing: it says the web process answers.
- /readyz runs every check at once, each in a worker thread with its own timeout, and answers
  within ``READINESS_DEADLINE`` seconds whatever hangs: a check not done by then is "timed out".
  Every client it opens has short timeouts, so a thread left behind by a hang ends on its own;
  the pool's size bounds how many can pile up.
- 200 when every check passes, 503 otherwise, with a JSON body naming each check's state. The
  body names no host, port, URL, user or version: only the check and a fixed reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import load_backend
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from connectbooster.celery import BEAT_TICK_KEY, READINESS_REDIS_TIMEOUT, app, readiness_redis

READINESS_DEADLINE = 2.5  # seconds for the whole answer
BEAT_STALE_AFTER = 120  # seconds: beat sends its tick every minute
WORKER_PING_TIMEOUT = 1.0
DATABASE_CONNECT_TIMEOUT = 2  # seconds (PostgreSQL's connect_timeout is whole seconds)


@require_GET
def healthz(request):
    """For load balancers and uptime checks: the web process answers (no database)."""
    return HttpResponse("ok", content_type="text/plain")


class CheckFailed(Exception):
    """A check's fixed, safe reason (shown in the /readyz body)."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str = ""


def check_database() -> str:
    """A fresh connection (not this thread's) runs ``SELECT 1``, then closes."""
    params = connections.settings[DEFAULT_DB_ALIAS]
    # Never through a connection pool: the check asks the server itself, and must not start a pool.
    options = {name: value for name, value in params.get("OPTIONS", {}).items() if name != "pool"}
    if params["ENGINE"].endswith(("postgresql", "postgis")):
        options["connect_timeout"] = DATABASE_CONNECT_TIMEOUT
    params = {**params, "OPTIONS": options}
    connection = load_backend(params["ENGINE"]).DatabaseWrapper(params, DEFAULT_DB_ALIAS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        raise CheckFailed("unreachable") from exc
    finally:
        connection.close()
    return "up"


def check_redis() -> str:
    client = readiness_redis()
    try:
        client.ping()
    except redis.TimeoutError as exc:
        raise CheckFailed("timed out") from exc
    except redis.RedisError as exc:
        raise CheckFailed("unreachable") from exc
    finally:
        client.close()
    return "up"


def _broker_connection():
    # No retries: the check reports the broker's state now, it does not wait for it to return.
    return app.connection_for_write(
        url=settings.CELERY_BROKER_URL,
        connect_timeout=READINESS_REDIS_TIMEOUT,
        transport_options={
            "max_retries": 0,
            "socket_connect_timeout": READINESS_REDIS_TIMEOUT,
            "socket_timeout": READINESS_REDIS_TIMEOUT,
        },
    )


def check_broker() -> str:
    try:
        with _broker_connection() as connection:
            connection.ensure_connection(max_retries=0, timeout=READINESS_REDIS_TIMEOUT)
    except Exception as exc:
        raise CheckFailed("unreachable") from exc
    return "up"


def check_worker() -> str:
    try:
        with _broker_connection() as connection:
            replies = app.control.ping(timeout=WORKER_PING_TIMEOUT, limit=1, connection=connection)
    except Exception as exc:
        raise CheckFailed("broker unreachable") from exc
    if not replies:
        raise CheckFailed(f"no worker answered a ping within {WORKER_PING_TIMEOUT:g} s")
    return "answered"


def check_beat() -> str:
    client = readiness_redis()
    try:
        stamp = client.get(BEAT_TICK_KEY)
    except redis.RedisError as exc:
        raise CheckFailed("cannot read the last tick (Redis unreachable)") from exc
    finally:
        client.close()
    if stamp is None:
        raise CheckFailed(f"no tick in the last {BEAT_STALE_AFTER} s")
    age = max(0, round(time.time() - float(stamp)))
    if age > BEAT_STALE_AFTER:
        raise CheckFailed(f"last tick {age} s ago")
    return f"ticked {age} s ago"


READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "broker": check_broker,
    "beat": check_beat,
    "worker": check_worker,
}

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """Created on first use, so each gunicorn worker (forked after import) has its own."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2 * len(READINESS_CHECKS), thread_name_prefix="readyz")
        return _pool


def _run(check: Callable[[], str]) -> CheckResult:
    try:
        return CheckResult(True, check())
    except CheckFailed as exc:
        return CheckResult(False, str(exc))
    except Exception:
        return CheckResult(False, "failed")


def readiness(deadline: float = READINESS_DEADLINE) -> dict[str, CheckResult]:
    futures = {name: _executor().submit(_run, check) for name, check in READINESS_CHECKS.items()}
    wait_for(futures.values(), timeout=deadline)
    results = {}
    for name, future in futures.items():
        if future.done():
            results[name] = future.result()
        else:
            future.cancel()  # still queued behind hung checks: never start it
            results[name] = CheckResult(False, "timed out")
    return results


@never_cache
@require_GET
def readyz(request):
    """For monitoring and deploy checks: can the portal do its work (database, Redis, the
    broker, beat, a worker)? 503 names what is down."""
    results = readiness()
    down = [name for name, result in results.items() if not result.ok]
    body = {
        "status": "unavailable" if down else "ready",
        "down": down,
        "checks": {name: {"ok": result.ok, "detail": result.detail} for name, result in results.items()},
    }
    return JsonResponse(body, status=503 if down else 200)
