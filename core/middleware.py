"""Middleware for what every request may meet: proxies in front, Redis failing behind, and
logs that name the request.

- TrustedProxyMiddleware (first): X-Forwarded-Proto counts only from a proxy listed in
  TRUSTED_PROXIES (settings set SECURE_PROXY_SSL_HEADER only when there is one), so a
  client reaching the web process directly cannot claim https.
- RequestIdMiddleware: every response carries an ``X-Request-ID`` header, and every log line
  emitted while the request is handled carries the same id (``core.logging.log_context``).
  The id is the incoming ``X-Request-ID`` (set by a proxy or load balancer, so its logs and
  ours join up) when it is a plain token of at most 128 characters; anything else is replaced
  by a new random id, so a client cannot write arbitrary text into the logs. A 4xx/5xx
  response is logged once, inside the context (Django would log it after the middleware
  returns, without the id).
- RedisUnavailableMiddleware: a view that needed Redis (cache or Celery broker) while it
  was down or hanging answers a styled 503 page with Retry-After, never a traceback.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.shortcuts import render
from django.utils.log import log_response
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.client_address import UNIX_SOCKET, remote_is_trusted_proxy, warn_untrusted_proxy
from core.logging import log_context
from core.redis import REDIS_DOWN

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30
REQUEST_ID_HEADER = "X-Request-ID"
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")


class TrustedProxyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_X_FORWARDED_PROTO" in request.META and not remote_is_trusted_proxy(request):
            warn_untrusted_proxy(request.META.get("REMOTE_ADDR") or UNIX_SOCKET, "X-Forwarded-Proto")
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


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


def service_unavailable(request):
    response = render(request, "503.html", status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


class RedisUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (*REDIS_DOWN, BrokerUnavailable)):
            return None
        logger.error("Answered 503 to %s %s: Redis is unavailable (%s)", request.method, request.path, exception)
        return service_unavailable(request)
