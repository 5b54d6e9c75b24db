"""The Kaseya BMS REST API v2 transport: one request path with auth, pacing, retries and error mapping.

Invariants:

- Plain Python (no Django). Not thread-safe: one transport per thread; :meth:`BmsTransport.sibling`
  makes one for another thread, sharing the token (replaced, never changed) and the pacer.
- One ``requests.Session`` per transport; every request has a timeout and never follows a redirect
  (a redirect means the server URL is not the BMS API host).
- Every failure leaves as exactly one :class:`BmsError` subclass: TLS, timeout and connection
  errors by their kind, HTTP statuses by :meth:`BmsTransport._raise_for_status`, answers by
  :mod:`.envelope`. Messages never contain the password or tokens.
- Reads are retried with capped, fully jittered exponential backoff, honouring Retry-After up to
  ``backoff_cap`` (beyond that the caller reschedules); a plain ``Success=false`` is retried at most
  ``SUCCESS_FALSE_MAX_ATTEMPTS`` times in total. Creating POSTs (``idempotent=False``) are never
  retried blindly, except the single replay after a 401, which BMS did not process.
- Sign-in is lazy; the token is renewed shortly before it expires (refresh, else a fresh login)
  and once on a 401. Token requests are retried on their own and not again by the caller's loop.
- The pacer, when given, is asked before every HTTP request sent (retries and auth included), and
  ``request_counts`` counts every one of them by endpoint key.
- Every body is read with a byte cap (``max_response_bytes``; streamed downloads with their own
  cap in :func:`read_capped`), so one oversized answer cannot exhaust a worker's memory.

The only endpoints known here are the two token endpoints sign-in needs; the others are in
:mod:`.client`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, Self
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from integrations import vendor_http
from integrations.vendor_http import Endpoint, backoff_delay, retry_after_seconds, short_reason

from .envelope import Envelope, ErrorInfo, auth_error, error_from_info, is_success_false, unwrap
from .exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsError,
    BmsMalformedResponse,
    BmsNotABmsServer,
    BmsNotFound,
    BmsPermissionDenied,
    BmsRateLimited,
    BmsRequestRejected,
    BmsResponseTooLarge,
    BmsTimeout,
    BmsTlsError,
    BmsUnavailable,
)
from .pacing import RequestPacer
from .types import Fields, parse_datetime

logger = logging.getLogger(__name__)

#: ``Success=false`` on HTTP 200 may be transient on BMS; reads try this many times in total.
SUCCESS_FALSE_MAX_ATTEMPTS = 3
#: Renew the access token this long before it expires (at most 20 % of its lifetime).
REFRESH_MARGIN_SECONDS = 60.0
USER_AGENT = "connectbooster-portal-bms-client/1.0"
# The largest answer read into memory (a page of 100 invoices is about 1 MB).
DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024


AUTHENTICATE = Endpoint("POST", "/v2/security/authenticate")
REFRESH_TOKEN = Endpoint("POST", "/v2/security/refreshtoken")


@dataclass(frozen=True)  # shared by sibling transports: replaced, never changed
class _Token:
    access: str = dataclass_field(repr=False)
    refresh: str | None = dataclass_field(repr=False)
    refresh_due_at: float | None  # our clock; None = unknown, rely on 401
    refresh_expires_at: float | None


class TokenCache(Protocol):
    """Where clients of one installation share their access token (another process's sign-in
    is reused instead of signing in again)."""

    def load(self) -> dict | None: ...

    def save(self, token: dict) -> None: ...


class _TokenRejected(Exception):
    """HTTP 401 on an authenticated call: renew the token and replay once."""


class _NoRetry(Exception):
    """Wraps an error the retry loop must pass through untouched."""

    def __init__(self, error: BmsError) -> None:
        super().__init__(str(error))
        self.error = error


class PinnedAddressAdapter(HTTPAdapter):
    """Connects to the address the Server URL check approved instead of resolving the host name
    again (a DNS answer that changes in between cannot redirect the request), while TLS is still
    verified against the host name and the Host header still names it."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__()
        self.host = host
        self.address = address

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        host_params, pool_kwargs = self.build_connection_pool_key_attributes(request, verify, cert)
        if (host_params.get("host") or "").lower() != self.host:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        host_params["host"] = self.address
        if host_params.get("scheme") == "https":
            pool_kwargs["server_hostname"] = self.host
            pool_kwargs["assert_hostname"] = self.host
        return self.poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def add_headers(self, request, **kwargs) -> None:
        if "Host" not in request.headers:
            request.headers["Host"] = urlsplit(request.url).netloc


class BmsTransport:
    """Session, credentials and the request machinery; endpoint methods live in subclasses."""

    def __init__(
        self,
        server_url: str,
        company: str,
        username: str,
        password: str,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        session: requests.Session | None = None,
        pacer: RequestPacer | None = None,
        max_attempts: int = 5,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        pinned_address: str | None = None,
        token_cache: TokenCache | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urlsplit(server_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("server_url must be an absolute http(s) URL")
        self.server_url = server_url.strip().rstrip("/")
        self.company = company
        self.username = username
        self._password = password
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.max_response_bytes = max_response_bytes
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._pacer = pacer
        self._sleep = sleep
        self._clock = clock
        self._random = random.Random()
        self._session = session or requests.Session()
        self._session.headers.setdefault("User-Agent", USER_AGENT)
        self._session.headers["Accept"] = "application/json"
        self.pinned_address = pinned_address
        self._token_cache = token_cache
        if pinned_address:
            # Only the BMS host: any other URL (none is expected) resolves as usual.
            self._session.mount(f"{parts.scheme}://", PinnedAddressAdapter(parts.hostname or "", pinned_address))
        self._token: _Token | None = None
        #: endpoint key → number of HTTP requests actually sent (retries and auth included).
        self.request_counts: dict[str, int] = {}

    def __repr__(self) -> str:
        # Never show the password or tokens.
        return (
            f"{type(self).__name__}(server_url={self.server_url!r}, company={self.company!r}, "
            f"username={self.username!r})"
        )

    def sibling(self) -> Self:
        """A client for another thread (a client is not shared between threads): the same
        server, credentials, timeouts, retry options and pacer, its own default HTTP session,
        and this client's token, so it starts without signing in again."""
        twin = type(self)(
            self.server_url,
            self.company,
            self.username,
            self._password,
            timeout=self.timeout,
            pacer=self._pacer,
            max_attempts=self.max_attempts,
            max_response_bytes=self.max_response_bytes,
            pinned_address=self.pinned_address,
            token_cache=self._token_cache,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            sleep=self._sleep,
            clock=self._clock,
        )
        twin._token = self._token
        return twin

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- security --------------------------------------------------------------------------------

    def authenticate(self) -> None:
        """Log in with company/username/password (done lazily by every other method)."""
        form = {"GrantType": "password", "UserName": self.username, "Password": self._password, "Tenant": self.company}
        self._set_token(self._token_request(AUTHENTICATE, form))

    def refresh(self) -> None:
        """Exchange the refresh token for a new access token."""
        if self._token is None or not self._token.refresh:
            raise BmsAuthenticationError(
                "No refresh token yet; authenticate first.", reason=AuthFailureReason.TOKEN_REJECTED
            )
        form = {"AccessToken": self._token.access, "RefreshToken": self._token.refresh}
        self._set_token(self._token_request(REFRESH_TOKEN, form))

    def _set_token(self, token: _Token) -> None:
        self._token = token
        if self._token_cache is not None:
            self._token_cache.save(asdict(token))

    # --- request machinery -----------------------------------------------------------------------

    def _call(
        self,
        ep: Endpoint,
        ids: tuple[object, ...] = (),
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        idempotent: bool = True,
        stream: bool = False,
        read: Callable[[requests.Response], Any] | None = None,
    ) -> Any:
        """Send an authenticated request with retries; return ``read(response)`` (default: envelope)."""
        reader = read or self._read_envelope
        url = self.server_url + ep.path(*ids)
        attempt = 0
        success_false = 0
        replayed = False
        while True:
            attempt += 1
            try:
                headers = {"Authorization": f"Bearer {self._current_token()}"}
                response = self._send(ep, url, params=params, json_body=json_body, headers=headers, stream=stream)
                try:
                    self._raise_for_status(response, ep)
                    return reader(response)
                finally:
                    response.close()
            except _NoRetry as wrapped:
                raise wrapped.error from None
            except _TokenRejected:
                if replayed:
                    raise BmsAuthenticationError(
                        "BMS rejected a freshly issued access token.",
                        reason=AuthFailureReason.TOKEN_REJECTED,
                        status_code=401,
                    ) from None
                # 401 means the call was not processed, so replaying even a create is safe.
                replayed = True
                attempt -= 1
                self._renew_token()  # raised errors skip the sibling handlers: no retry loop
            except BmsError as exc:
                if is_success_false(exc):
                    success_false += 1
                delay = self._retry_delay(exc, attempt, idempotent, success_false)
                if delay is None:
                    raise
                logger.info(
                    "BMS %s failed (%s); retry %d/%d in %.2f s",
                    ep.key,
                    type(exc).__name__,
                    attempt,
                    self.max_attempts - 1,
                    delay,
                )
                self._sleep(delay)

    def _retry_delay(self, exc: BmsError, attempt: int, idempotent: bool, success_false: int) -> float | None:
        if not idempotent or attempt >= self.max_attempts:
            return None
        if is_success_false(exc):
            return self._backoff(attempt) if success_false < SUCCESS_FALSE_MAX_ATTEMPTS else None
        if not exc.transient:
            return None
        if isinstance(exc, BmsRateLimited):
            # A long Retry-After would park the worker; let the caller reschedule instead.
            if exc.retry_after > self.backoff_cap:
                return None
            return max(exc.retry_after, self._backoff(attempt))
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(self._random, attempt, base=self.backoff_base, cap=self.backoff_cap)

    def _send(
        self,
        ep: Endpoint,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        if self._pacer is not None:
            try:
                self._pacer.acquire(ep.key)
            except BmsRateLimited as exc:
                raise _NoRetry(exc) from None  # the budget is spent: retrying now cannot help
        self.request_counts[ep.key] = self.request_counts.get(ep.key, 0) + 1
        host = urlsplit(url).netloc
        started = time.monotonic()
        try:
            response = self._session.request(
                ep.method,
                url,
                params=params,
                json=json_body,
                data=form,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,  # read below with a cap (or by the caller's capped reader)
            )
        except requests.exceptions.SSLError as exc:
            raise BmsTlsError(f"Secure connection to {host} failed: {short_reason(exc)}") from exc
        except requests.exceptions.Timeout as exc:
            raise BmsTimeout(f"BMS at {host} did not answer in time ({short_reason(exc)}).") from exc
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        ) as exc:
            raise BmsNotABmsServer(f"The server URL is invalid: {short_reason(exc)}") from exc
        except requests.exceptions.RequestException as exc:
            # Connection refused/reset/dropped, incomplete chunked body...
            raise BmsUnavailable(f"Could not reach BMS at {host}: {short_reason(exc)}") from exc
        if not stream:
            _read_body(response, self.max_response_bytes, ep)
        logger.debug("BMS %s -> %s in %.0f ms", ep.key, response.status_code, (time.monotonic() - started) * 1000)
        return response

    def _raise_for_status(self, response: requests.Response, ep: Endpoint) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        if 300 <= status < 400:
            target = urlsplit(response.headers.get("Location", "")).netloc or "another address"
            raise BmsNotABmsServer(
                f"The server answered {ep.template} with a redirect (HTTP {status}) to {target}; "
                "the server URL must be the BMS API host, e.g. https://api.bms.kaseya.com.",
                status_code=status,
            )
        if status == 401:
            raise _TokenRejected()
        if status == 429:
            raise BmsRateLimited(
                f"BMS rate limit reached on {ep.key}.",
                retry_after=retry_after_seconds(response, self._clock),
                status_code=429,
            )
        if status == 408:
            raise BmsTimeout(f"BMS timed out handling {ep.key} (HTTP 408).", status_code=408)
        if status >= 500:
            raise BmsUnavailable(f"BMS is unavailable (HTTP {status} on {ep.key}).", status_code=status)
        raise error_from_info(ErrorInfo.from_payload(_try_json(response)), status)

    @staticmethod
    def _read_envelope(response: requests.Response) -> Envelope:
        payload = _try_json(response)
        if payload is None and _looks_like_json(response):
            raise BmsMalformedResponse(
                "BMS sent an answer that is not valid JSON (cut short or garbled).", status_code=response.status_code
            )
        if payload is None:
            raise BmsNotABmsServer(
                "The server did not answer with JSON; check that the server URL is the BMS API host.",
                status_code=response.status_code,
            )
        return unwrap(payload, response.status_code)

    # --- tokens ----------------------------------------------------------------------------------

    def _current_token(self) -> str:
        if self._token is None and self._token_cache is not None:
            cached = self._token_cache.load()
            if cached:
                self._token = _Token(**cached)
        try:
            if self._token is None:
                self.authenticate()
            elif self._token.refresh_due_at is not None and self._clock() >= self._token.refresh_due_at:
                self._renew_token()
        except BmsError as exc:
            raise _NoRetry(exc) from None  # token calls already retried on their own
        assert self._token is not None
        return self._token.access

    def _renew_token(self) -> None:
        """Refresh if possible; fall back to a fresh login when the refresh is refused."""
        token = self._token
        refresh_usable = (
            token is not None
            and token.refresh
            and (token.refresh_expires_at is None or self._clock() < token.refresh_expires_at)
        )
        if refresh_usable:
            try:
                self.refresh()
                return
            except BmsError as exc:
                if exc.transient:
                    raise
                logger.info("BMS token refresh refused (%s); logging in again", type(exc).__name__)
        self.authenticate()

    def _token_request(self, ep: Endpoint, form: Mapping[str, str]) -> _Token:
        """POST a token form. Retried on transient errors: it creates nothing."""
        url = self.server_url + ep.template
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._read_token(self._send(ep, url, form=form), ep)
            except _NoRetry as wrapped:
                raise wrapped.error from None
            except BmsError as exc:
                if not exc.transient or attempt >= self.max_attempts:
                    raise
                retry_after = exc.retry_after if isinstance(exc, BmsRateLimited) else 0.0
                if retry_after > self.backoff_cap:
                    raise
                self._sleep(max(retry_after, self._backoff(attempt)))

    def _read_token(self, response: requests.Response, ep: Endpoint) -> _Token:
        with response:
            status = response.status_code
            if status == 404:
                raise BmsNotABmsServer(
                    f"{ep.template} does not exist on this server (HTTP 404); "
                    "check that the server URL is the BMS API host.",
                    status_code=404,
                )
            if status in (400, 401, 403):
                raise auth_error(ErrorInfo.from_payload(_try_json(response)), status)
            self._raise_for_status(response, ep)
            try:
                envelope = self._read_envelope(response)
            except (BmsRequestRejected, BmsPermissionDenied, BmsNotFound) as exc:  # Success=false on login
                raise auth_error(ErrorInfo(exc.message, exc.code, ()), status) from None
        fields = Fields(envelope.result if isinstance(envelope.result, Mapping) else None)
        access = fields.text("AccessToken")
        if not access:
            raise BmsNotABmsServer(f"Unexpected answer from {ep.template}: no access token.")
        now = self._clock()
        return _Token(
            access=access,
            refresh=fields.text("RefreshToken"),
            refresh_due_at=_refresh_due(parse_datetime(fields.get("AccessTokenExpireOn")), now),
            refresh_expires_at=_timestamp(parse_datetime(fields.get("RefreshTokenExpireOn"))),
        )


# --- body readers --------------------------------------------------------------------------------


def read_capped(response: requests.Response, max_bytes: int) -> bytes:
    """A streamed body, whole, or :class:`BmsResponseTooLarge` beyond ``max_bytes``; a JSON
    ``Success=false`` answer in its place raises the error it reports."""
    body = vendor_http.read_capped(
        response,
        max_bytes,
        too_large=BmsResponseTooLarge(f"The attachment is larger than the {max_bytes} byte limit."),
        dropped=lambda exc: BmsUnavailable(f"The download was interrupted: {short_reason(exc)}"),
    )
    if "json" in response.headers.get("Content-Type", ""):
        # BMS reports errors on the download endpoint in its usual JSON envelope.
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if isinstance(payload, Mapping) and Fields(payload).get("Success") is False:
            raise error_from_info(ErrorInfo.from_payload(payload), response.status_code)
    return body


def _read_body(response: requests.Response, max_bytes: int, ep: Endpoint) -> None:
    """Read the body whole, or raise BmsResponseTooLarge past ``max_bytes``. The body is kept
    where requests keeps a body it read itself, so ``response.content`` serves it."""
    too_large = BmsResponseTooLarge(f"BMS answered {ep.key} with more than {max_bytes} bytes; the answer was refused.")
    try:
        body = vendor_http.read_capped(
            response,
            max_bytes,
            too_large=too_large,
            dropped=lambda exc: BmsUnavailable(f"The connection dropped mid-answer: {short_reason(exc)}"),
            chunk_size=256 * 1024,
        )
    except BmsResponseTooLarge:
        response.close()
        raise
    response._content = body  # noqa: SLF001 - requests' own cache of a body it has read


def _looks_like_json(response: requests.Response) -> bool:
    if "json" in response.headers.get("Content-Type", "").lower():
        return True
    return response.content.lstrip()[:1] in (b"{", b"[")


def _try_json(response: requests.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)  # Decimal: money must stay exact
    except ValueError:
        return None
    except requests.exceptions.RequestException as exc:
        raise BmsUnavailable(f"The connection dropped mid-answer: {short_reason(exc)}") from exc


# --- module helpers ------------------------------------------------------------------------------


def _refresh_due(expires: datetime | None, now: float) -> float | None:
    expires_at = _timestamp(expires)
    if expires_at is None or expires_at <= now:
        return None  # unknown or already past by our clock (skew): rely on 401 instead
    return expires_at - min(REFRESH_MARGIN_SECONDS, (expires_at - now) * 0.2)


def _timestamp(value: datetime | None) -> float | None:
    return value.timestamp() if value else None
