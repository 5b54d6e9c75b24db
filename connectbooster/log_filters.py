"""Logging filters named in settings.LOGGING.

A request refused with a 4xx (PermissionDenied, Http404, a bad request) is an expected
answer, not a fault: it is logged as one line, without the traceback Django attaches.
Server errors (5xx) keep theirs."""

from __future__ import annotations

import logging
from collections.abc import Callable


def no_client_error_traceback() -> Callable[[logging.LogRecord], bool]:
    def drop_traceback(record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True

    return drop_traceback
