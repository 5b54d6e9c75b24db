"""What a Kaseya BMS answer means: its envelope, and its errors as :class:`BmsError` subclasses.

Invariants:

- Pure functions of a decoded payload and an HTTP status: no HTTP, no session, no Django.
- Keys are read case-insensitively (:class:`Fields`): BMS answers camelCase, its OpenAPI
  document shows PascalCase.
- ``Success=false`` is an error even on HTTP 200; a server crash reported that way is
  :class:`BmsUnavailable` (retried like a 5xx), anything else a refusal classified by
  :func:`error_from_info`.
- Messages are built from the server's own error text, never from the request, so they
  carry no credentials or tokens.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .exceptions import (
    AuthFailureReason,
    BmsAuthenticationError,
    BmsError,
    BmsNotABmsServer,
    BmsNotFound,
    BmsPermissionDenied,
    BmsRequestRejected,
    BmsUnavailable,
)
from .types import Fields


@dataclass(frozen=True)
class Envelope:
    result: Any
    total_records: int | None


@dataclass(frozen=True)
class ErrorInfo:
    message: str | None
    code: int | None
    sub_errors: tuple[str, ...]
    field: str | None = None
    details: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> ErrorInfo:
        if not isinstance(payload, Mapping):
            return cls(None, None, ())
        f = Fields(payload)
        # ASP.NET model validation answers a ProblemDetails: {"title", "errors": {field: [msgs]}}.
        problems = f.get("errors")
        if isinstance(problems, Mapping) and problems:
            name, messages = next(iter(problems.items()))
            msgs = messages if isinstance(messages, list) else [messages]
            text = "; ".join(str(m) for m in msgs) or f.text("title")
            return cls(text, None, tuple(str(m) for m in msgs), field=str(name).lstrip("$.") or None)
        error = Fields(f.get("Error") if isinstance(f.get("Error"), Mapping) else None)
        subs = error.get("SubErrors")
        sub_errors = tuple(str(s) for s in subs) if isinstance(subs, list) else ()
        message = error.text("Message") or f.text("Message", "title")
        details = error.text("Details")
        field = error.text("Field", "PropertyName", "MemberName") or _field_from_text(
            (*sub_errors, message or "", details or "")
        )
        return cls(message, error.integer("Code"), sub_errors, field, details)

    def text(self, fallback: str) -> str:
        parts = [self.message] if self.message else []
        parts += [s for s in (self.details, *self.sub_errors) if s and s not in parts]
        return "; ".join(parts)[:500] if parts else fallback


# ASP.NET-style validation messages name the field in a few fixed phrasings.
_FIELD_PATTERNS = [
    re.compile(p)
    for p in (
        r"\bThe (\w+) field is required",
        r"\bThe field (\w+) must\b",
        r"\bis not valid for (\w+)",
        r"^\s*Invalid (\w+):",
        r"^\s*'?([A-Za-z][\w.]*)'?\s*:",
        r"^\s*'([A-Za-z][\w.]*)'",
    )
]


def _field_from_text(texts: Sequence[str]) -> str | None:
    for text in texts:
        for pattern in _FIELD_PATTERNS:
            match = pattern.search(text)
            if match:
                return match.group(1)
    return None


def error_from_info(info: ErrorInfo, status: int) -> BmsError:
    """Classify a 4xx or ``Success=false`` answer."""
    message = info.text(f"BMS refused the request (HTTP {status}).")
    lowered = message.lower()
    if "api access" in lowered:
        return BmsAuthenticationError(
            message, reason=AuthFailureReason.NO_API_ACCESS, status_code=status, code=info.code
        )
    if status == 403 or any(
        w in lowered for w in ("access right", "permission", "not authorized", "access denied", "not allowed")
    ):
        return BmsPermissionDenied(message, status_code=status, code=info.code)
    # On a 400 "does not exist" is about a referenced id in the input: a rejected request.
    if status in (404, 410) or (status == 200 and ("not found" in lowered or "does not exist" in lowered)):
        return BmsNotFound(message, status_code=status, code=info.code)
    return BmsRequestRejected(message, field=info.field, status_code=status, code=info.code)


# Sandbox convention (live BMS codes are undocumented; the message is the primary signal).
_AUTH_CODES = {
    978002: AuthFailureReason.WRONG_CREDENTIALS,
    978003: AuthFailureReason.WRONG_TENANT,
    978004: AuthFailureReason.NO_API_ACCESS,
}


def auth_error(info: ErrorInfo, status: int) -> BmsAuthenticationError:
    """Classify a refused sign-in or token refresh."""
    message = info.text("BMS refused the login.")
    lowered = message.lower()
    if info.code in _AUTH_CODES:
        reason = _AUTH_CODES[info.code]
    elif "api access" in lowered:
        reason = AuthFailureReason.NO_API_ACCESS
    elif "tenant" in lowered or "company" in lowered:
        reason = AuthFailureReason.WRONG_TENANT
    elif any(w in lowered for w in ("password", "user name", "username", "credential", "invalid user")):
        reason = AuthFailureReason.WRONG_CREDENTIALS
    else:
        reason = AuthFailureReason.UNKNOWN
    return BmsAuthenticationError(f"BMS login failed: {message}", reason=reason, status_code=status, code=info.code)


def unwrap(payload: Any, status: int) -> Envelope:
    """Accept the ``{success, error, result, totalRecords}`` envelope in any casing, or a bare DTO."""
    if isinstance(payload, list):
        return Envelope(payload, None)
    if not isinstance(payload, Mapping):
        raise BmsNotABmsServer("Unexpected answer shape from the server.", status_code=status)
    f = Fields(payload)
    if not f.has("Success", "Result"):
        return Envelope(payload, None)  # bare DTO (e.g. accounts/contacts summary by id)
    if f.get("Success") is False:
        info = ErrorInfo.from_payload(payload)
        if _is_server_fault(info):
            raise BmsUnavailable(
                f"BMS failed to process the request: {info.text('server error')}", status_code=status, code=info.code
            )
        raise error_from_info(info, status)
    return Envelope(f.get("Result"), f.integer("TotalRecords"))


def _is_server_fault(info: ErrorInfo) -> bool:
    """A ``Success=false`` that reports a server-side crash rather than a refusal.

    ASP.NET's catch-all message, or an HTTP-5xx-like error code (sandbox convention; live codes
    are undocumented). These are retried like a 5xx instead of the bounded ``Success=false`` retry.
    """
    generic = (info.message or "").lower().startswith("an error occurred while processing")
    return generic or (info.code is not None and 500 <= info.code <= 599)


def is_success_false(exc: BmsError) -> bool:
    """Whether ``exc`` is a plain ``Success=false`` refusal on HTTP 200 (retried a bounded number of times)."""
    return type(exc) is BmsRequestRejected and exc.status_code == 200
