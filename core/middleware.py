"""Middleware for what every request may meet: proxies in front and Redis failing behind.

- TrustedProxyMiddleware (first): X-Forwarded-Proto counts only from a proxy listed in
  TRUSTED_PROXIES (settings set SECURE_PROXY_SSL_HEADER only when there is one), so a
  client reaching the web process directly cannot claim https.
- RedisUnavailableMiddleware: a view that needed Redis (cache or Celery broker) while it
  was down or hanging answers a styled 503 page with Retry-After, never a traceback.
"""

from __future__ import annotations

import logging

from django.shortcuts import render
from kombu.exceptions import OperationalError as BrokerUnavailable

from core.client_address import UNIX_SOCKET, remote_is_trusted_proxy, warn_untrusted_proxy
from core.redis import REDIS_DOWN

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30


class TrustedProxyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if "HTTP_X_FORWARDED_PROTO" in request.META and not remote_is_trusted_proxy(request):
            warn_untrusted_proxy(request.META.get("REMOTE_ADDR") or UNIX_SOCKET, "X-Forwarded-Proto")
            del request.META["HTTP_X_FORWARDED_PROTO"]
        return self.get_response(request)


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
