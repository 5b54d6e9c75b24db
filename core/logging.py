"""Log context and the JSON log format.

Invariants:
- ``log_context(**ids)`` binds ids (``request_id``, ``run_id``, ``delivery_id``) to every log
  record emitted inside it, in this thread or asyncio task only (a ContextVar), and restores
  the previous binding on exit, however the block ends. Nested contexts add to the outer one.
- ``LogContextFilter`` copies the bound ids onto each record it sees; it never drops a record.
  Attach it to handlers (not loggers), so records propagated from any logger get it.
- ``JsonFormatter`` writes one line per event: a JSON object with ``time`` (UTC, ISO 8601),
  ``level``, ``logger``, ``message``, the bound ids present, and ``exception`` when there is one.
  Newlines inside values are escaped, so a traceback never splits an event over lines.

Plain Python: no Django import, because settings.py uses this module.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# The ids a log line may carry, in the order JSON lines show them.
CONTEXT_KEYS = ("request_id", "run_id", "delivery_id")

_EMPTY: MappingProxyType = MappingProxyType({})
_bound: ContextVar[MappingProxyType] = ContextVar("log_context", default=_EMPTY)


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ``ids`` to the log records emitted inside the block (None values are left out)."""
    unknown = set(ids) - set(CONTEXT_KEYS)
    if unknown:
        raise TypeError(f"Unknown log context keys: {', '.join(sorted(unknown))}")
    token = _bound.set(MappingProxyType({**_bound.get(), **{k: v for k, v in ids.items() if v is not None}}))
    try:
        yield
    finally:
        _bound.reset(token)


def current_log_context() -> dict[str, Any]:
    return dict(_bound.get())


class LogContextFilter(logging.Filter):
    """Adds the bound ids to each record (an id set explicitly with ``extra=`` wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _bound.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log collectors (``LOG_FORMAT=json``)."""

    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in CONTEXT_KEYS:
            value = getattr(record, key, None)
            if value is not None:
                event[key] = value
        if record.exc_info:
            event["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            event["stack"] = self.formatStack(record.stack_info)
        return json.dumps(event, default=str, ensure_ascii=False)


def logging_config(*, log_format: str, level: str) -> dict:
    """The LOGGING setting: ``plain`` (human-readable lines) or ``json``."""
    if log_format not in {"plain", "json"}:
        raise ValueError(f"LOG_FORMAT must be plain or json, not {log_format!r}.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "log_context": {"()": "core.logging.LogContextFilter"},
            "no_client_error_traceback": {"()": "core.logging.no_client_error_traceback"},
        },
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
            "json": {"()": "core.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": log_format, "filters": ["log_context"]},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler (on with DEBUG) would repeat what the root one prints.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.request": {"filters": ["no_client_error_traceback"]},
            "django.db.backends": {"level": "WARNING"},
            # fpdf2 subsets the PDFs' fonts with fontTools, which reports each step at INFO.
            "fontTools": {"level": "WARNING"},
        },
    }


def no_client_error_traceback() -> Callable[[logging.LogRecord], bool]:
    """A request refused with a 4xx (PermissionDenied, Http404, a bad request) is an expected
    answer, not a fault: it is logged as one line, without the traceback Django attaches.
    Server errors (5xx) keep theirs."""

    def drop_traceback(record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True

    return drop_traceback


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Send errors (and, if sampled, traces) to Sentry: web requests and Celery tasks.

    Nothing personal or secret leaves: no user, cookies or IP (``send_default_pii=False``), no
    request bodies (the integration settings forms carry credentials) and no local variables
    of stack frames (a client's frame may hold a decrypted password)."""
    import sentry_sdk  # why: only deployments that set SENTRY_DSN load the SDK
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
    )
