"""Errors raised by the Xero client.

Every failure maps to exactly one subclass of :class:`XeroError` (an ``IntegrationError``), so callers
can name the reason to an admin and decide what to retry (``transient``, ``retry_after``). Messages never
contain client secrets, authorization codes or tokens and are safe to show.
"""

from __future__ import annotations

import enum

from integrations.base import IntegrationError, IntegrationRateLimited


class XeroError(IntegrationError):
    """Root of all Xero client errors."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: HTTP status of the answer, when there was one.
        self.status_code = status_code


class XeroAuthError(XeroError):
    """Xero refused our credentials: the client id/secret at the token endpoint, or an access token
    that is still rejected after one forced refresh."""


class XeroGrantRevoked(XeroAuthError):
    """The authorization is gone: the refresh token expired (60 days unused), was revoked, or was
    already rotated away (``invalid_grant``). Only a new sign-in ("Reconnect Xero") helps."""


class PermissionProblem(enum.StrEnum):
    MISSING_SCOPE = "missing_scope"  # 401 AuthorizationUnsuccessful: the grant lacks a scope
    TENANT_NOT_CONNECTED = "tenant_not_connected"  # 403 AuthenticationUnsuccessful: organisation disconnected
    FORBIDDEN = "forbidden"  # any other 403


class XeroPermissionDenied(XeroError):
    """The token is valid but may not do this: a scope was not granted, or the organisation
    (``xero-tenant-id``) is not connected to this app."""

    def __init__(
        self, message: str, *, problem: PermissionProblem = PermissionProblem.FORBIDDEN, status_code: int | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.problem = problem


class XeroNotFound(XeroError):
    """The requested record does not exist (HTTP 404)."""


class XeroValidationError(XeroError):
    """Xero refused the request's content (HTTP 400, or a 200 answer whose record carries
    ``ValidationErrors``). ``messages`` holds every ``ValidationErrors[].Message``."""

    def __init__(
        self,
        message: str,
        *,
        messages: tuple[str, ...] = (),
        error_type: str | None = None,
        error_number: int | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.messages = messages
        #: Xero's ``Type``, e.g. ``ValidationException``, ``QueryParseException``.
        self.error_type = error_type
        self.error_number = error_number


class RateLimitProblem(enum.StrEnum):
    """Xero's ``X-Rate-Limit-Problem`` header on a 429."""

    MINUTE = "minute"  # 60 calls per minute per organisation
    DAY = "day"  # 5,000 calls per day per organisation (fewer on some plans)
    CONCURRENT = "concurrent"  # 5 calls in flight per organisation
    APP_MINUTE = "appminute"  # 10,000 calls per minute for the whole app
    UNKNOWN = "unknown"


class XeroRateLimited(XeroError, IntegrationRateLimited):
    """HTTP 429 from Xero, or the local pacer's budget is spent."""

    def __init__(
        self,
        message: str = "Xero rate limit reached",
        *,
        retry_after: float = 0.0,
        problem: RateLimitProblem = RateLimitProblem.UNKNOWN,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code)
        #: Seconds to wait before trying again; 0.0 when Xero did not say.
        self.retry_after = retry_after
        self.problem = problem


class XeroUnavailable(XeroError):
    """5xx answer (Xero down, organisation offline), connection refused or dropped."""

    transient = True


class XeroTimeout(XeroError):
    """No answer within the configured timeout."""

    transient = True


class XeroResponseTooLarge(XeroError):
    """An answer exceeded the client's size cap."""


class XeroBadResponse(XeroError):
    """Xero answered something we cannot read: not JSON, an unexpected shape, a redirect."""
