"""Errors raised by the Kaseya BMS API client.

Every failure maps to exactly one subclass of :class:`BmsError` (an ``IntegrationError``), so callers can
name the reason to an admin and decide what to retry (``transient``). Messages
never contain credentials or tokens and are safe to show.
"""

from __future__ import annotations

import enum

from integrations.base import IntegrationError, IntegrationRateLimited


class BmsError(IntegrationError):
    """Root of all BMS client errors."""

    def __init__(self, message: str, *, status_code: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        #: HTTP status of the answer, if there was one (200 for ``Success=false`` answers).
        self.status_code = status_code
        #: BMS ``Error.Code`` when the answer carried one.
        self.code = code


class AuthFailureReason(enum.StrEnum):
    WRONG_TENANT = "wrong_tenant"
    WRONG_CREDENTIALS = "wrong_credentials"
    NO_API_ACCESS = "no_api_access"
    TOKEN_REJECTED = "token_rejected"
    UNKNOWN = "unknown"


class BmsAuthenticationError(BmsError):
    """Login failed, or BMS keeps rejecting freshly issued tokens."""

    def __init__(
        self,
        message: str,
        *,
        reason: AuthFailureReason = AuthFailureReason.UNKNOWN,
        status_code: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        self.reason = reason


class BmsPermissionDenied(BmsError):
    """HTTP 403 or an access-rights error: the API user's role lacks a right."""


class BmsNotFound(BmsError):
    """The requested object does not exist (HTTP 404 or a BMS "not found" error)."""


class BmsRequestRejected(BmsError):
    """BMS refused the request (4xx or ``Success=false``), e.g. a validation error."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status_code: int | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, code=code)
        #: The request field BMS blamed, when it said.
        self.field = field


class BmsRateLimited(BmsError, IntegrationRateLimited):
    """HTTP 429 from BMS, or the local pacer's hourly budget is spent."""

    def __init__(
        self, message: str = "BMS rate limit reached", *, retry_after: float = 0.0, status_code: int | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        #: Seconds to wait before trying again; 0.0 when the server did not say.
        self.retry_after = retry_after


class BmsUnavailable(BmsError):
    """5xx answer, connection refused, or connection dropped."""

    transient = True


class BmsTimeout(BmsError):
    """No answer within the configured timeout."""

    transient = True


class BmsNotABmsServer(BmsError):
    """The server URL does not answer like a BMS API (HTML, redirect, unexpected shape...)."""


class BmsTlsError(BmsError):
    """TLS handshake or certificate verification failed."""


class BmsResponseTooLarge(BmsError):
    """A download exceeded the client's size cap."""


class BmsMalformedResponse(BmsError):
    """An answer that claims to be JSON but does not parse (cut short, garbled): worth retrying."""

    transient = True


class BmsOversizedPage(BmsError):
    """A listing page with more records than were asked for: the answer cannot be trusted."""
