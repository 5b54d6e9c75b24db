"""Request middleware shared by every page.

Invariants of ``RequestIdMiddleware``:
- Every response carries an ``X-Request-ID`` header, and every log line emitted while the
  request is handled carries the same id (``core.logging.log_context``).
- The id is the incoming ``X-Request-ID`` (set by a proxy or load balancer, so its logs and
  ours join up) when it is a plain token of at most 128 characters; anything else is replaced
  by a new random id, so a client cannot write arbitrary text into the logs.
- A 4xx/5xx response is logged once, as Django logs it ("Not Found: /path"), but inside the
  context: Django itself would log it after the middleware returns, without the id.
"""

from __future__ import annotations

import re
import uuid

from django.utils.log import log_response

from core.logging import log_context

REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")


def request_id_from(incoming: str | None) -> str:
    if incoming and _ACCEPTABLE_REQUEST_ID.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Marks the response logged, so Django's handler does not log it again.
                log_response("%s: %s", response.reason_phrase, request.path, response=response, request=request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response
