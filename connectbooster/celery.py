"""The Celery app, the beat tick that /readyz watches, and the log context of tasks.

Invariants:
- Beat sends ``connectbooster.beat_tick`` every minute (``CELERY_BEAT_SCHEDULE``). The
  process that sends it (beat) stamps ``BEAT_TICK_KEY`` in Redis as it does, so the stamp
  says beat is alive even when every worker is busy with a long sync; the task itself does
  nothing and expires unrun if no worker takes it within the minute.
- A task that works on one sync run or one notification delivery logs with that id bound
  (``TASK_LOG_CONTEXT``), whoever called the service.
"""

import logging
import os
import time

import redis
from celery import Celery
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.conf import settings

from core.logging import log_context

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "connectbooster.settings")

app = Celery("connectbooster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)

BEAT_TICK_TASK = "connectbooster.beat_tick"
BEAT_TICK_KEY = "readiness:beat-tick"
# Short socket timeouts: a stamp must never hold beat up.
READINESS_REDIS_TIMEOUT = 1.0


def readiness_redis() -> redis.Redis:
    """A client of the cache's Redis (where the beat stamp lives) that gives up quickly."""
    return redis.Redis.from_url(
        settings.CACHE_REDIS_URL,
        socket_timeout=READINESS_REDIS_TIMEOUT,
        socket_connect_timeout=READINESS_REDIS_TIMEOUT,
    )


def beat_tick_stamp(now: float | None = None) -> None:
    client = readiness_redis()
    try:
        # Kept an hour: long enough to say how late beat is, short enough to vanish when gone.
        client.set(BEAT_TICK_KEY, repr(time.time() if now is None else now), ex=3600)
    finally:
        client.close()


@before_task_publish.connect
def _stamp_beat_tick(sender=None, **kwargs):
    if sender != BEAT_TICK_TASK:
        return
    try:
        beat_tick_stamp()
    except redis.RedisError:
        logger.warning("Could not record the beat tick in Redis; /readyz will report beat as down")


@app.task(name=BEAT_TICK_TASK, ignore_result=True, expires=50)
def beat_tick_task() -> None:
    """Nothing to do: beat stamped the tick when it sent this task."""


# The id each task's first argument is, bound to the task's log lines.
TASK_LOG_CONTEXT = {
    "integrations.sync_run": "run_id",
    "notifications.deliver_ticket": "delivery_id",
    "notifications.deliver_email": "delivery_id",
}
_TASK_CONTEXTS: dict[str, object] = {}


@task_prerun.connect
def _bind_task_log_context(task_id=None, task=None, args=None, **kwargs):
    key = TASK_LOG_CONTEXT.get(getattr(task, "name", ""))
    if key and args:
        context = log_context(**{key: args[0]})
        context.__enter__()
        _TASK_CONTEXTS[task_id] = context


@task_postrun.connect
def _unbind_task_log_context(task_id=None, **kwargs):
    context = _TASK_CONTEXTS.pop(task_id, None)
    if context is not None:
        context.__exit__(None, None, None)
