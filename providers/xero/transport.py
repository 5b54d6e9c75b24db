"""The one request path shared by :class:`XeroIdentity` and :class:`XeroClient`.

Invariants:
- Every request goes through :meth:`Transport.request`: the pacer is asked first, redirects are
  never followed, bodies are read with a size cap, and every failure leaves as one ``XeroError``.
- Only requests marked idempotent are retried (connection errors, timeouts, 5xx, 429 whose
  ``Retry-After`` is short), with capped exponential backoff and full jitter. A create is never
  retried here: on an unclear outcome the caller must look before it writes again.
- The rate-limit headers of every answer (errors included) are kept in ``last_limits``.
- No message or log line holds a secret: URLs carry no credentials, bodies are never logged.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import requests

from integrations.base import IntegrationRateLimited
from integrations.vendor_http import Endpoint, backoff_delay, read_capped, retry_after_seconds, short_reason

from .exceptions import (
    RateLimitProblem,
    XeroBadResponse,
    XeroError,
    XeroRateLimited,
    XeroResponseTooLarge,
    XeroTimeout,
    XeroUnavailable,
)
from .types import RateLimits

logger = logging.getLogger("providers.xero")

T = TypeVar("T")

USER_AGENT = "connectbooster-portal-xero-client/1.0"
DEFAULT_MAX_RESPONSE_BYTES = 20 * 1024 * 1024
#: Error bodies are only read this far: enough for Xero's messages, never a memory risk.
ERROR_BODY_BYTES = 64 * 1024


@runtime_checkable
class RequestPacer(Protocol):
    def acquire(self, endpoint_key: str) -> None:
        """Return when a request to ``endpoint_key`` (e.g. ``"GET /Invoices"``) may be sent.

        May sleep; raises an ``IntegrationRateLimited`` (with ``retry_after``) when the budget
        is spent for longer than it is willing to wait. That error is passed on, never retried.

        A pacer that also has ``release(endpoint_key, *, retry_after=0.0)`` is told when each
        request it allowed is over (answered, refused or failed), with Xero's ``Retry-After`` on
        a 429: a concurrency budget needs the first, a budget shared by several workers the second.
        """
        ...


class _PassThrough(Exception):
    """Wraps an error the retry loop must hand on untouched (pacer refusals)."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


#: Maps a non-2xx answer that is not a 3xx/408/429/5xx to an error (the body is already read).
Classifier = Callable[[int, Any, requests.Response], XeroError]


def check_base_url(url: str, name: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{name} must be an absolute http(s) URL")
    if parts.username or parts.password or parts.query:
        raise ValueError(f"{name} must not carry credentials or a query")
    return url.strip().rstrip("/")


class Transport:
    def __init__(
        self,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        session: requests.Session | None = None,
        pacer: RequestPacer | None = None,
        max_attempts: int = 4,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        max_rate_limit_wait: float = 60.0,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_rate_limit_wait = max_rate_limit_wait
        self.max_response_bytes = max_response_bytes
        self.pacer = pacer
        self.sleep = sleep
        self.clock = clock
        self._random = random.Random()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        #: Rate-limit headers of the latest answer that carried any.
        self.last_limits: RateLimits | None = None
        #: endpoint key → HTTP requests actually sent (retries included).
        self.request_counts: dict[str, int] = {}

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        ep: Endpoint,
        url: str,
        *,
        classify: Classifier,
        read: Callable[[requests.Response], T],
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        idempotent: bool = True,
    ) -> T:
        """Send, retry what may be retried, and return ``read(response)`` for a 2xx answer."""
        data: bytes | Mapping[str, str] | None = form
        send_headers = dict(headers or {})
        if json_body is not None:
            data = dumps(json_body).encode()
            send_headers["Content-Type"] = "application/json"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(ep, url, params=params, headers=send_headers, data=data, auth=auth)
                retry_after = 0.0
                try:
                    with response:
                        if 200 <= response.status_code < 300:
                            return read(response)
                        error = self._error(response, ep, classify)
                        if isinstance(error, XeroRateLimited):
                            retry_after = error.retry_after
                        raise error
                finally:
                    self._release(ep, retry_after)
            except _PassThrough as wrapped:
                raise wrapped.error from None
            except XeroError as exc:
                delay = self._retry_delay(exc, attempt, idempotent)
                if delay is None:
                    raise
                logger.info(
                    "Xero %s failed (%s); retry %d/%d in %.2f s",
                    ep.key,
                    type(exc).__name__,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self.sleep(delay)

    # --- reading answers -------------------------------------------------------------------------

    def read_json(self, response: requests.Response) -> Any:
        """The JSON body (numbers as ``Decimal``), read with the size cap."""
        body = self.read_capped(response, self.max_response_bytes, what="answer")
        try:
            return json.loads(body, parse_float=Decimal)
        except ValueError:
            kind = response.headers.get("Content-Type", "unknown").split(";")[0]
            raise XeroBadResponse(
                f"Xero answered {response.status_code} with {kind} instead of JSON.",
                status_code=response.status_code,
            ) from None

    def read_capped(self, response: requests.Response, max_bytes: int, *, what: str) -> bytes:
        return read_capped(
            response,
            max_bytes,
            too_large=XeroResponseTooLarge(
                f"The Xero {what} is larger than the {max_bytes} byte limit.", status_code=response.status_code
            ),
            dropped=lambda exc: XeroUnavailable(f"The connection to Xero dropped mid-answer: {short_reason(exc)}"),
        )

    # --- internals -------------------------------------------------------------------------------

    def _send(
        self,
        ep: Endpoint,
        url: str,
        *,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
        data: bytes | Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> requests.Response:
        if self.pacer is not None:
            try:
                self.pacer.acquire(ep.key)
            except IntegrationRateLimited as exc:
                raise _PassThrough(exc) from None  # the budget is spent: retrying now cannot help
        self.request_counts[ep.key] = self.request_counts.get(ep.key, 0) + 1
        host = urlsplit(url).netloc
        started = time.monotonic()
        try:
            response = self.session.request(
                ep.method,
                url,
                params=params,
                data=data,
                headers=headers,
                auth=auth,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.exceptions.Timeout as exc:
            self._release(ep)
            raise XeroTimeout(f"Xero at {host} did not answer in time ({short_reason(exc)}).") from exc
        except requests.exceptions.RequestException as exc:
            # Connection refused/reset/dropped, TLS failure, incomplete answer...
            self._release(ep)
            raise XeroUnavailable(f"Could not reach Xero at {host}: {short_reason(exc)}") from exc
        limits = RateLimits.from_headers(response.headers)
        if limits is not None:
            self.last_limits = limits
        logger.debug("Xero %s -> %s in %.0f ms", ep.key, response.status_code, (time.monotonic() - started) * 1000)
        return response

    def _release(self, ep: Endpoint, retry_after: float = 0.0) -> None:
        release = getattr(self.pacer, "release", None)
        if release is not None:
            release(ep.key, retry_after=retry_after)

    def _error(self, response: requests.Response, ep: Endpoint, classify: Classifier) -> XeroError:
        status = response.status_code
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
            return XeroBadResponse(
                f"Xero answered {ep.key} with a redirect (HTTP {status}) to {target}.", status_code=status
            )
        if status == 429:
            problem_header = response.headers.get("X-Rate-Limit-Problem", "").strip().lower()
            problem = next((p for p in RateLimitProblem if p.value == problem_header), RateLimitProblem.UNKNOWN)
            retry_after = retry_after_seconds(response, self.clock)
            return XeroRateLimited(
                f"Xero's {problem.value} rate limit is reached"
                + (f"; retry in {retry_after:.0f} s." if retry_after else "."),
                retry_after=retry_after,
                problem=problem,
                status_code=429,
            )
        if status == 408:
            return XeroTimeout(f"Xero timed out handling {ep.key} (HTTP 408).", status_code=408)
        if status >= 500:
            return XeroUnavailable(f"Xero is unavailable (HTTP {status} on {ep.key}).", status_code=status)
        body = self.read_capped_quietly(response)
        return classify(status, body, response)

    def read_capped_quietly(self, response: requests.Response) -> Any:
        """An error answer's JSON body (None if it has none), its size cap applied by truncation."""
        raw = b""
        try:
            for chunk in response.iter_content(16 * 1024):
                raw += chunk
                if len(raw) >= ERROR_BODY_BYTES:
                    break
        except requests.exceptions.RequestException:
            return None
        try:
            return json.loads(raw, parse_float=Decimal)
        except ValueError:
            text = raw[:300].decode("utf-8", "replace").strip()
            return text or None

    def _retry_delay(self, exc: XeroError, attempt: int, idempotent: bool) -> float | None:
        if not idempotent or not exc.transient or attempt >= self.max_attempts:
            return None
        if isinstance(exc, XeroRateLimited):
            if exc.problem == RateLimitProblem.DAY or exc.retry_after > self.max_rate_limit_wait:
                return None  # a long wait would park the worker: the caller reschedules instead
            return max(exc.retry_after, self._backoff(attempt))
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(self._random, attempt, base=self.backoff_base, cap=self.backoff_cap)


def dumps(body: Any) -> str:
    """JSON with ``Decimal`` written as a plain number (exact: ``PaymentDraft`` allows 2 decimals)."""

    def encode(value: Any) -> Any:
        if isinstance(value, Decimal):
            as_float = float(value)
            if Decimal(repr(as_float)) != value:
                raise ValueError("amount cannot be sent exactly")
            return as_float
        raise TypeError(f"cannot send {type(value).__name__} as JSON")

    return json.dumps(body, default=encode, separators=(",", ":"))
