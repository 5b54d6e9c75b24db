"""Errors raised by the Stripe gateway.

Invariants:
- Every failure of a Stripe call maps to exactly one subclass of :class:`StripeGatewayError`
  (itself an ``IntegrationError``); no ``stripe.*Error`` leaves the gateway. The original library
  error is not chained (``raise ... from None``): its text and headers may name the key.
- Messages never contain an API key or a webhook secret (:func:`redact_secrets` runs over every
  message) and are safe to show an admin. ``CardDeclined`` and ``AuthenticationRequired`` carry
  Stripe's card message, which Stripe documents as safe to show the paying client.
- ``transient`` says whether the same call may succeed later unchanged.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from integrations.base import IntegrationError, IntegrationRateLimited

if TYPE_CHECKING:
    from .types import PaymentIntent

# sk_/rk_/pk_ keys (live, test, or whatever follows: localstripe takes any ``sk_...``), masked
# forms such as ``sk_test_****1234``, and webhook signing secrets.
_SECRET = re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_*]+")


def redact_secrets(text: str) -> str:
    return _SECRET.sub("[redacted]", text or "")


class StripeGatewayError(IntegrationError):
    """Root of the Stripe gateway's errors."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        message = redact_secrets(message)
        super().__init__(message)
        self.message = message
        #: HTTP status of Stripe's answer, when there was one.
        self.http_status = http_status
        #: Stripe's error ``code`` (``card_declined``, ``resource_missing``, ...), when it gave one.
        self.code = code
        #: Stripe's ``Request-Id``, to quote to Stripe support.
        self.request_id = request_id


class CardDeclined(StripeGatewayError):
    """The card was declined (HTTP 402), when saved or when charged. ``message`` is Stripe's
    wording for the paying client; ``decline_code`` is the issuer's reason when Stripe gives it
    (``insufficient_funds``, ``generic_decline``...; localstripe gives none)."""

    def __init__(
        self,
        message: str,
        *,
        decline_code: str | None = None,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
        http_status: int | None = 402,
        code: str | None = "card_declined",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        self.charge_id = charge_id


class AuthenticationRequired(StripeGatewayError):
    """The bank wants the cardholder to authenticate (3-D Secure), so the charge cannot complete
    without the client.

    One outcome for two answers: real Stripe answers an off-session confirmation with HTTP 402
    ``authentication_required`` (the intent is back in ``requires_payment_method``); localstripe
    answers 200 with the intent in ``requires_action``. Either way the caller gets this error,
    with the intent when the answer carried it: invite the client to pay on-session (a new
    confirmation through Stripe.js with ``payment_intent.client_secret``)."""

    def __init__(
        self,
        message: str = "The card issuer requires the cardholder to authenticate this payment.",
        *,
        payment_intent_id: str | None = None,
        payment_intent: PaymentIntent | None = None,
        http_status: int | None = None,
        code: str | None = "authentication_required",
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        self.payment_intent = payment_intent
        self.payment_intent_id = payment_intent_id or (payment_intent.id if payment_intent else None)


class InvalidRequest(StripeGatewayError):
    """Stripe refused the request's content (HTTP 400): a bug or a stale id on our side, not
    something a retry fixes."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        http_status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        #: The request parameter Stripe blamed, when it said.
        self.param = param


class NotFound(InvalidRequest):
    """The object (or, on an emulator, the endpoint) does not exist (HTTP 404)."""


class AuthenticationFailed(StripeGatewayError):
    """The secret key was refused (HTTP 401): wrong, revoked, or for another account."""


class PermissionDenied(StripeGatewayError):
    """The key is valid but may not do this (HTTP 403): a restricted key lacking a permission."""


class IdempotencyConflict(StripeGatewayError):
    """The idempotency key was reused with different parameters (400 ``idempotency_error``), or a
    request with the same key is still in flight (409). A deterministic key reused for a different
    payment is a bug; an in-flight duplicate settles if retried later, so 409 is transient."""


class StripeRateLimited(StripeGatewayError, IntegrationRateLimited):
    """HTTP 429 from Stripe (or our own pacer refusing to wait)."""

    transient = True

    def __init__(
        self,
        message: str = "Stripe rate limit reached",
        *,
        retry_after: float = 0.0,
        http_status: int | None = 429,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, code=code, request_id=request_id)
        self.retry_after = retry_after


class StripeUnavailable(StripeGatewayError):
    """Stripe could not be reached or failed on its side (connection error, timeout, 5xx). The
    outcome of a POST is unknown: retry with the same idempotency key, or read the object back."""

    transient = True


class StripeSignatureError(StripeGatewayError):
    """A webhook delivery whose ``Stripe-Signature`` does not verify: forged, altered, signed with
    another secret, or older than the tolerance."""
