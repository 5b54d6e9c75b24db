"""Stripe gateway: the portal's only way to Stripe, around the official ``stripe`` library.

Plain Python (no Django): built from a secret key and options. One method per endpoint, typed
results from :mod:`.types`, and one call path (``_call``) that maps every library error to a
:class:`~.exceptions.StripeGatewayError` subclass.

Invariants:
- The API version is pinned (:data:`STRIPE_API_VERSION`), not taken from the account's default,
  so a dashboard upgrade never changes the shapes we read.
- Every HTTP request the library sends, network retries included, first calls the ``pacer``
  (with an endpoint key such as ``"POST /v1/payment_intents"``) and is counted in
  ``request_counts``. A pacer that raises stops the request before it is sent.
- Money-moving POSTs (create/confirm/capture a PaymentIntent, create a refund) require the
  caller's deterministic idempotency key, sent as ``Idempotency-Key`` and reused by the library's
  own retries. Other POSTs take one optionally (else the library makes a random one, which only
  protects its own retries). localstripe ignores idempotency keys (the same key twice creates two
  objects): nothing may rely on them for correctness; the portal stores an intent's id before
  confirming it and reads it back by id.
- An intent a server-side confirmation leaves in ``requires_action`` raises
  :class:`AuthenticationRequired`, like real Stripe's 402 ``authentication_required`` does.
- Nothing here logs, and no message holds the key (see :func:`.exceptions.redact_secrets`).

Not thread-safe: one gateway per task or request.

What localstripe (1.15) does not do, and how this gateway copes:
- no ``GET /v1/account``: :meth:`StripeGateway.retrieve_account` falls back to ``GET /v1/balance``
  on a non-Stripe ``api_base`` and reports only that the key works;
- no PaymentIntent search: :meth:`StripeGateway.find_payment_intents` scans the listing on a
  non-Stripe ``api_base``;
- no ``types`` filter on events (one ``type`` only), no ``reason`` on refunds, no ``off_session``
  on confirm: these are sent only when the caller asks for them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe

from .exceptions import (
    AuthenticationFailed,
    AuthenticationRequired,
    CardDeclined,
    IdempotencyConflict,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    StripeGatewayError,
    StripeRateLimited,
    StripeSignatureError,
    StripeUnavailable,
    redact_secrets,
)
from .money import check_minor_units, stripe_currency
from .types import (
    AccountInfo,
    Customer,
    Event,
    Mandate,
    PaymentIntent,
    PaymentIntentStatus,
    PaymentMethod,
    Refund,
    SetupIntent,
)

T = TypeVar("T")

#: The Stripe API version every request asks for: the one stripe 16.1 is generated against.
STRIPE_API_VERSION = "2026-10-28.endive"
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 80.0)  # connect, read: Stripe's library uses 80 s
DEFAULT_MAX_NETWORK_RETRIES = 2
#: Stripe's default tolerance for a webhook signature's timestamp.
DEFAULT_WEBHOOK_TOLERANCE = 300
#: Stripe accepts idempotency keys of up to 255 characters.
MAX_IDEMPOTENCY_KEY_LENGTH = 255
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
CAPTURE_METHODS = frozenset({"automatic", "automatic_async", "manual"})

#: Called with an endpoint key before every HTTP request; may sleep, or raise (e.g.
#: :class:`StripeRateLimited`) to refuse it.
Pacer = Callable[[str], None]


class _RedactSecrets(logging.Filter):
    """The library logs Stripe's error messages (``Invalid API Key provided: sk_test_****1234``)
    to the ``stripe`` logger: redact keys there too."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_secrets(record.getMessage())
        record.args = None
        return True


if not any(isinstance(f, _RedactSecrets) for f in logging.getLogger("stripe").filters):
    logging.getLogger("stripe").addFilter(_RedactSecrets())


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str

    @property
    def key(self) -> str:
        """Pacing/counting key, e.g. ``"POST /v1/payment_intents/{id}/confirm"``."""
        return f"{self.method} {self.template}"


ACCOUNT = Endpoint("GET", "/v1/account")
BALANCE = Endpoint("GET", "/v1/balance")
CUSTOMER_CREATE = Endpoint("POST", "/v1/customers")
CUSTOMER = Endpoint("GET", "/v1/customers/{id}")
SETUP_INTENT_CREATE = Endpoint("POST", "/v1/setup_intents")
SETUP_INTENT = Endpoint("GET", "/v1/setup_intents/{id}")
MANDATE = Endpoint("GET", "/v1/mandates/{id}")
PAYMENT_METHOD = Endpoint("GET", "/v1/payment_methods/{id}")
PAYMENT_METHOD_ATTACH = Endpoint("POST", "/v1/payment_methods/{id}/attach")
PAYMENT_METHOD_DETACH = Endpoint("POST", "/v1/payment_methods/{id}/detach")
PAYMENT_INTENT_CREATE = Endpoint("POST", "/v1/payment_intents")
PAYMENT_INTENT = Endpoint("GET", "/v1/payment_intents/{id}")
PAYMENT_INTENTS = Endpoint("GET", "/v1/payment_intents")
PAYMENT_INTENT_SEARCH = Endpoint("GET", "/v1/payment_intents/search")
PAYMENT_INTENT_CONFIRM = Endpoint("POST", "/v1/payment_intents/{id}/confirm")
PAYMENT_INTENT_CAPTURE = Endpoint("POST", "/v1/payment_intents/{id}/capture")
PAYMENT_INTENT_CANCEL = Endpoint("POST", "/v1/payment_intents/{id}/cancel")
REFUND_CREATE = Endpoint("POST", "/v1/refunds")
REFUND = Endpoint("GET", "/v1/refunds/{id}")
EVENTS = Endpoint("GET", "/v1/events")
EVENT = Endpoint("GET", "/v1/events/{id}")

_SEARCH_TERM = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


def _require_idempotency_key(key: str | None, *, required: bool) -> str | None:
    if key is None and not required:
        return None
    if not isinstance(key, str) or not key:
        raise ValueError("this call moves money: pass a deterministic idempotency_key")
    if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH or not _PRINTABLE_ASCII.match(key):
        raise ValueError(f"idempotency keys are 1-{MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters")
    return key


def _require_id(value: str, prefix: str, what: str) -> str:
    """Stripe ids in a URL path: refuse anything that would change the path."""
    if not isinstance(value, str) or not re.fullmatch(rf"{prefix}[A-Za-z0-9_]+", value):
        raise ValueError(f"not a {what} id: {value!r}")
    return value


def _timestamp(value: datetime | int) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("use an aware datetime")
        return int(value.timestamp())
    return int(value)


def _as_dict(obj: Any) -> dict:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


class _CountingHttpClient(stripe.RequestsClient):
    """The library's requests-based client, calling the gateway's hook before every attempt
    (the library's retry loop calls ``request`` once per attempt)."""

    def __init__(self, before_send: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._before_send = before_send

    def request(self, method, url, headers, post_data=None):
        self._before_send()
        return super().request(method, url, headers, post_data)

    def request_stream(self, method, url, headers, post_data=None):
        self._before_send()
        return super().request_stream(method, url, headers, post_data)


class StripeGateway:
    """Stripe's API for one account (one secret key)."""

    def __init__(
        self,
        secret_key: str,
        *,
        api_base: str | None = None,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        max_network_retries: int = DEFAULT_MAX_NETWORK_RETRIES,
        pacer: Pacer | None = None,
    ) -> None:
        """``api_base``: ``None`` for real Stripe, else another server's root (``http://127.0.0.1:8420``
        for localstripe). ``max_network_retries``: the library's own retries of connection
        errors, 409 and 5xx answers, with the same idempotency key."""
        if not isinstance(secret_key, str) or not secret_key.strip():
            raise ValueError("a Stripe secret key is required")
        if secret_key.startswith("pk_"):
            raise ValueError("that is a publishable key: the gateway needs the secret (sk_) or restricted (rk_) key")
        if api_base is not None:
            parts = urlsplit(api_base.strip())
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError("api_base must be an absolute http(s) URL")
            api_base = api_base.strip().rstrip("/")
        if max_network_retries < 0:
            raise ValueError("max_network_retries cannot be negative")
        self.api_base = api_base
        self._pacer = pacer
        self._endpoint: Endpoint | None = None
        #: endpoint key -> HTTP requests actually sent (network retries included).
        self.request_counts: dict[str, int] = {}
        self._stripe = stripe.StripeClient(
            secret_key.strip(),
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base} if api_base else None,
            max_network_retries=max_network_retries,
            http_client=_CountingHttpClient(self._before_send, timeout=timeout),
        )

    def __repr__(self) -> str:
        return f"<StripeGateway {self.api_base or 'stripe'}>"

    @property
    def is_real_stripe(self) -> bool:
        return self.api_base is None

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, all endpoints."""
        return sum(self.request_counts.values())

    # --- the one call path ------------------------------------------------------------------

    def _before_send(self) -> None:
        key = self._endpoint.key if self._endpoint else "unknown"
        if self._pacer is not None:
            self._pacer(key)
        self.request_counts[key] = self.request_counts.get(key, 0) + 1

    def _call(self, endpoint: Endpoint, send: Callable[[], T]) -> T:
        self._endpoint = endpoint
        try:
            return send()
        except stripe.StripeError as exc:
            raise _translate(exc) from None
        finally:
            self._endpoint = None

    @staticmethod
    def _options(idempotency_key: str | None) -> dict[str, str]:
        return {"idempotency_key": idempotency_key} if idempotency_key else {}

    # --- account ----------------------------------------------------------------------------

    def retrieve_account(self) -> AccountInfo:
        """Test Connection: the key works (else :class:`AuthenticationFailed`), and the account's
        ``charges_enabled`` where the server has an account endpoint."""
        try:
            account = self._call(ACCOUNT, lambda: self._stripe.v1.accounts.retrieve_current())
        except NotFound:
            if self.is_real_stripe:
                raise
            # localstripe has no /v1/account; the balance proves the key is accepted.
            self._call(BALANCE, lambda: self._stripe.v1.balance.retrieve())
            return AccountInfo(key_works=True)
        return AccountInfo.from_stripe(_as_dict(account))

    # --- customers --------------------------------------------------------------------------

    def create_customer(
        self,
        *,
        name: str | None = None,
        email: str | None = None,
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> Customer:
        params: dict[str, Any] = {}
        if name:
            params["name"] = name
        if email:
            params["email"] = email
        if metadata:
            params["metadata"] = dict(metadata)
        options = self._options(_require_idempotency_key(idempotency_key, required=False))
        customer = self._call(CUSTOMER_CREATE, lambda: self._stripe.v1.customers.create(params=params, options=options))
        return Customer.from_stripe(_as_dict(customer))

    def retrieve_customer(self, customer_id: str) -> Customer:
        """A deleted customer comes back with ``deleted=True`` on real Stripe."""
        _require_id(customer_id, "cus_", "customer")
        return Customer.from_stripe(
            _as_dict(self._call(CUSTOMER, lambda: self._stripe.v1.customers.retrieve(customer_id)))
        )

    # --- setup intents ----------------------------------------------------------------------

    def create_setup_intent(
        self,
        *,
        customer: str,
        payment_method_types: Sequence[str] = ("card",),
        usage: str = "off_session",
        metadata: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> SetupIntent:
        """A SetupIntent for the browser to confirm (Stripe.js, with ``client_secret``) so that
        3-D Secure happens while the client is there."""
        _require_id(customer, "cus_", "customer")
        if usage not in ("off_session", "on_session"):
            raise ValueError("usage is off_session or on_session")
        params: dict[str, Any] = {
            "customer": customer,
            "payment_method_types": list(payment_method_types),
            "usage": usage,
        }
        if metadata:
            params["metadata"] = dict(metadata)
        options = self._options(_require_idempotency_key(idempotency_key, required=False))
        intent = self._call(
            SETUP_INTENT_CREATE, lambda: self._stripe.v1.setup_intents.create(params=params, options=options)
        )
        return SetupIntent.from_stripe(_as_dict(intent))

    def retrieve_setup_intent(self, setup_intent_id: str) -> SetupIntent:
        _require_id(setup_intent_id, "seti_", "SetupIntent")
        return SetupIntent.from_stripe(
            _as_dict(self._call(SETUP_INTENT, lambda: self._stripe.v1.setup_intents.retrieve(setup_intent_id)))
        )

    def retrieve_mandate(self, mandate_id: str) -> Mandate:
        """A bank debit's mandate (a confirmed SetupIntent's ``mandate``): its acceptance as
        Stripe recorded it. localstripe has no mandates (404: :class:`NotFound`)."""
        _require_id(mandate_id, "mandate_", "mandate")
        return Mandate.from_stripe(_as_dict(self._call(MANDATE, lambda: self._stripe.v1.mandates.retrieve(mandate_id))))

    # --- payment methods --------------------------------------------------------------------

    def retrieve_payment_method(self, payment_method_id: str) -> PaymentMethod:
        _require_id(payment_method_id, "pm_", "PaymentMethod")
        return PaymentMethod.from_stripe(
            _as_dict(self._call(PAYMENT_METHOD, lambda: self._stripe.v1.payment_methods.retrieve(payment_method_id)))
        )

    def attach_payment_method(
        self, payment_method_id: str, *, customer: str, idempotency_key: str | None = None
    ) -> PaymentMethod:
        """Attach a method to a customer. Real Stripe attaches on SetupIntent confirmation;
        localstripe does not, so the portal attaches explicitly (attaching twice to the same
        customer is harmless on both). A card declined when saved raises :class:`CardDeclined`."""
        _require_id(payment_method_id, "pm_", "PaymentMethod")
        _require_id(customer, "cus_", "customer")
        options = self._options(_require_idempotency_key(idempotency_key, required=False))
        method = self._call(
            PAYMENT_METHOD_ATTACH,
            lambda: self._stripe.v1.payment_methods.attach(
                payment_method_id, params={"customer": customer}, options=options
            ),
        )
        return PaymentMethod.from_stripe(_as_dict(method))

    def detach_payment_method(self, payment_method_id: str, *, idempotency_key: str | None = None) -> PaymentMethod:
        _require_id(payment_method_id, "pm_", "PaymentMethod")
        options = self._options(_require_idempotency_key(idempotency_key, required=False))
        method = self._call(
            PAYMENT_METHOD_DETACH,
            lambda: self._stripe.v1.payment_methods.detach(payment_method_id, options=options),
        )
        return PaymentMethod.from_stripe(_as_dict(method))

    # --- payment intents --------------------------------------------------------------------

    def create_payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        payment_method: str | None,
        idempotency_key: str,
        off_session: bool = False,
        confirm: bool = False,
        metadata: Mapping[str, str] | None = None,
        capture_method: str | None = None,
        payment_method_types: Sequence[str] = ("card",),
    ) -> PaymentIntent:
        """Create (and with ``confirm=True`` charge) a PaymentIntent of ``amount`` minor units.

        The portal's path: create with ``confirm=False``, store the id, then
        :meth:`confirm_payment_intent`; a crash in between leaves an id to read back.
        ``off_session=True`` (autopay: the client is not there) requires ``confirm=True``, as on
        Stripe. ``payment_method_types`` defaults to cards so that a server-side confirmation
        never needs a ``return_url`` for redirect-based methods.

        Raises :class:`CardDeclined` or :class:`AuthenticationRequired` when a confirmation fails.
        """
        if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
            raise ValueError("amount is a positive integer of minor units")
        check_minor_units(amount, currency)
        if off_session and not confirm:
            raise ValueError("off_session=True requires confirm=True")
        if capture_method is not None and capture_method not in CAPTURE_METHODS:
            raise ValueError(f"capture_method is one of {sorted(CAPTURE_METHODS)}")
        if customer is not None:
            _require_id(customer, "cus_", "customer")
        if payment_method is not None:
            _require_id(payment_method, "pm_", "PaymentMethod")
        options = self._options(_require_idempotency_key(idempotency_key, required=True))
        params: dict[str, Any] = {
            "amount": amount,
            "currency": stripe_currency(currency),
            "payment_method_types": list(payment_method_types),
        }
        if customer:
            params["customer"] = customer
        if payment_method:
            params["payment_method"] = payment_method
        if metadata:
            params["metadata"] = dict(metadata)
        if capture_method:
            params["capture_method"] = capture_method
        if confirm:
            params["confirm"] = True
        if off_session:
            params["off_session"] = True  # localstripe refuses off_session unless confirm is true
        intent = self._call(
            PAYMENT_INTENT_CREATE, lambda: self._stripe.v1.payment_intents.create(params=params, options=options)
        )
        return self._settled(intent, confirmed=confirm)

    def confirm_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str, off_session: bool | None = None
    ) -> PaymentIntent:
        """Confirm (charge) an intent created with ``confirm=False``. ``off_session=True`` tells
        Stripe the client is not there (autopay); localstripe refuses that parameter, so it is
        sent only when given. Raises :class:`CardDeclined` or :class:`AuthenticationRequired`."""
        _require_id(payment_intent_id, "pi_", "PaymentIntent")
        options = self._options(_require_idempotency_key(idempotency_key, required=True))
        params: dict[str, Any] = {}
        if off_session is not None:
            params["off_session"] = off_session
        intent = self._call(
            PAYMENT_INTENT_CONFIRM,
            lambda: self._stripe.v1.payment_intents.confirm(payment_intent_id, params=params, options=options),
        )
        return self._settled(intent, confirmed=True)

    def capture_payment_intent(
        self, payment_intent_id: str, *, idempotency_key: str, amount_to_capture: int | None = None
    ) -> PaymentIntent:
        """Capture an intent created with ``capture_method="manual"`` (all of it, or less)."""
        _require_id(payment_intent_id, "pi_", "PaymentIntent")
        options = self._options(_require_idempotency_key(idempotency_key, required=True))
        params: dict[str, Any] = {}
        if amount_to_capture is not None:
            if isinstance(amount_to_capture, bool) or not isinstance(amount_to_capture, int) or amount_to_capture <= 0:
                raise ValueError("amount_to_capture is a positive integer of minor units")
            params["amount_to_capture"] = amount_to_capture
        intent = self._call(
            PAYMENT_INTENT_CAPTURE,
            lambda: self._stripe.v1.payment_intents.capture(payment_intent_id, params=params, options=options),
        )
        return PaymentIntent.from_stripe(_as_dict(intent))

    def retrieve_payment_intent(self, payment_intent_id: str) -> PaymentIntent:
        """The main way to learn a charge's outcome: the portal stores the id before confirming."""
        _require_id(payment_intent_id, "pi_", "PaymentIntent")
        return PaymentIntent.from_stripe(
            _as_dict(self._call(PAYMENT_INTENT, lambda: self._stripe.v1.payment_intents.retrieve(payment_intent_id)))
        )

    def cancel_payment_intent(self, payment_intent_id: str, *, idempotency_key: str | None = None) -> PaymentIntent:
        """Cancel an intent that has not succeeded (a succeeded one raises :class:`InvalidRequest`)."""
        _require_id(payment_intent_id, "pi_", "PaymentIntent")
        options = self._options(_require_idempotency_key(idempotency_key, required=False))
        intent = self._call(
            PAYMENT_INTENT_CANCEL,
            lambda: self._stripe.v1.payment_intents.cancel(payment_intent_id, options=options),
        )
        return PaymentIntent.from_stripe(_as_dict(intent))

    def find_payment_intents(self, *, metadata_key: str, value: str) -> list[PaymentIntent]:
        """Intents whose ``metadata[metadata_key] == value``: a safety net for an intent whose
        id was lost (the main path is :meth:`retrieve_payment_intent`).

        On real Stripe this is the Search API (``metadata['payment_id']:'42'``), which is
        eventually consistent: an intent created in the last minute or so may be missing, so it
        never proves that no intent exists. Search is not offered to accounts in India. On
        another server without search (localstripe answers 404), every intent is listed and
        filtered here: fine for a test server, never done against Stripe."""
        if not _SEARCH_TERM.match(metadata_key or "") or not _SEARCH_TERM.match(value or ""):
            raise ValueError("metadata key and value are 1-200 characters of A-Z a-z 0-9 _ . : -")
        query = f"metadata['{metadata_key}']:'{value}'"
        found: list[PaymentIntent] = []
        try:
            page = self._call(
                PAYMENT_INTENT_SEARCH,
                lambda: self._stripe.v1.payment_intents.search(params={"query": query, "limit": 100}),
            )
            while True:
                found.extend(PaymentIntent.from_stripe(_as_dict(item)) for item in page.data)
                next_page = getattr(page, "next_page", None)
                if not getattr(page, "has_more", False) or not next_page:
                    return found
                page = self._call(
                    PAYMENT_INTENT_SEARCH,
                    lambda next_page=next_page: self._stripe.v1.payment_intents.search(
                        params={"query": query, "limit": 100, "page": next_page}
                    ),
                )
        except NotFound:
            if self.is_real_stripe:
                raise
        return [
            intent
            for intent in self._walk(PAYMENT_INTENTS, self._stripe.v1.payment_intents.list, {}, PaymentIntent)
            if intent.metadata.get(metadata_key) == value
        ]

    def _settled(self, intent: Any, *, confirmed: bool) -> PaymentIntent:
        """A confirmation that ends in ``requires_action`` (localstripe's answer for a 3-D Secure
        card) is the same outcome as Stripe's 402 ``authentication_required``."""
        result = PaymentIntent.from_stripe(_as_dict(intent))
        if confirmed and result.status is PaymentIntentStatus.REQUIRES_ACTION:
            raise AuthenticationRequired(payment_intent=result, http_status=200)
        return result

    # --- refunds ----------------------------------------------------------------------------

    def create_refund(
        self,
        *,
        payment_intent: str,
        idempotency_key: str,
        amount: int | None = None,
        currency: str | None = None,
        reason: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        """Refund all of a PaymentIntent (``amount=None``) or part of it (minor units; pass the
        ``currency`` to have three-decimal and ISK amounts checked). ``reason`` is one of
        Stripe's (``duplicate``, ``fraudulent``, ``requested_by_customer``); localstripe refuses
        the parameter, so it is sent only when given."""
        _require_id(payment_intent, "pi_", "PaymentIntent")
        options = self._options(_require_idempotency_key(idempotency_key, required=True))
        params: dict[str, Any] = {"payment_intent": payment_intent}
        if amount is not None:
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise ValueError("amount is a positive integer of minor units")
            if currency:
                check_minor_units(amount, currency)
            params["amount"] = amount
        if reason is not None:
            if reason not in REFUND_REASONS:
                raise ValueError(f"reason is one of {sorted(REFUND_REASONS)}")
            params["reason"] = reason
        if metadata:
            params["metadata"] = dict(metadata)
        refund = self._call(REFUND_CREATE, lambda: self._stripe.v1.refunds.create(params=params, options=options))
        return Refund.from_stripe(_as_dict(refund))

    def retrieve_refund(self, refund_id: str) -> Refund:
        _require_id(refund_id, "(?:re|pyr)_", "refund")
        return Refund.from_stripe(_as_dict(self._call(REFUND, lambda: self._stripe.v1.refunds.retrieve(refund_id))))

    # --- events -----------------------------------------------------------------------------

    def list_events(
        self,
        *,
        created_gte: datetime | int | None = None,
        created_lt: datetime | int | None = None,
        types: Sequence[str] | None = None,
        page_size: int = 100,
    ) -> Iterator[Event]:
        """Every event in the window, page by page (the nightly re-read). Real Stripe keeps 30
        days of events and lists newest first; localstripe lists oldest first and filters on one
        ``type`` only (several ``types`` are sent as Stripe's ``types[]``, which it refuses)."""
        params: dict[str, Any] = {"limit": max(1, min(page_size, 100))}
        created: dict[str, int] = {}
        if created_gte is not None:
            created["gte"] = _timestamp(created_gte)
        if created_lt is not None:
            created["lt"] = _timestamp(created_lt)
        if created:
            params["created"] = created
        if types:
            types = list(types)
            if len(types) == 1:
                params["type"] = types[0]
            else:
                params["types"] = types
        return self._walk(EVENTS, self._stripe.v1.events.list, params, Event)

    def retrieve_event(self, event_id: str) -> Event:
        _require_id(event_id, "evt_", "event")
        return Event.from_stripe(_as_dict(self._call(EVENT, lambda: self._stripe.v1.events.retrieve(event_id))))

    def _walk(self, endpoint: Endpoint, list_page: Callable[..., Any], params: dict[str, Any], kind: Any) -> Iterator:
        """Follow ``starting_after`` until ``has_more`` is false."""
        params = {"limit": 100, **params}
        while True:
            page = self._call(endpoint, lambda: list_page(params=dict(params)))
            items = [_as_dict(item) for item in page.data]
            for item in items:
                yield kind.from_stripe(item)
            if not page.has_more or not items:
                return
            params["starting_after"] = items[-1]["id"]

    # --- webhooks ---------------------------------------------------------------------------

    @staticmethod
    def verify_webhook(
        payload: bytes, signature_header: str | None, secret: str, *, tolerance: int = DEFAULT_WEBHOOK_TOLERANCE
    ) -> Event:
        """The event of a webhook delivery, after checking its ``Stripe-Signature`` over the raw
        body (HMAC-SHA256 of ``timestamp.payload`` with the endpoint's secret) and that its
        timestamp is at most ``tolerance`` seconds old. Needs no API key and sends nothing.
        Raises :class:`StripeSignatureError` for anything that does not verify."""
        if not isinstance(payload, bytes | bytearray):
            raise TypeError("verify the raw request body (bytes), not parsed JSON")
        if not secret:
            raise ValueError("the webhook endpoint's signing secret is required")
        if tolerance is None or tolerance <= 0:
            raise ValueError("a positive tolerance is required: 0 would accept any old delivery")
        try:
            text = bytes(payload).decode("utf-8")
        except UnicodeDecodeError:
            raise StripeSignatureError("The webhook body is not UTF-8.") from None
        try:
            stripe.WebhookSignature.verify_header(text, signature_header or "", secret, tolerance)
        except stripe.SignatureVerificationError as exc:
            raise StripeSignatureError(f"Webhook signature refused: {exc.user_message or 'invalid'}") from None
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not an object")
            return Event.from_stripe(data)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise StripeSignatureError("The signed webhook body is not a Stripe event.") from None


def _retry_after(headers: Mapping[str, str] | None) -> float:
    try:
        return max(0.0, float((headers or {}).get("retry-after") or (headers or {}).get("Retry-After") or 0))
    except ValueError:
        return 0.0


def _translate(exc: stripe.StripeError) -> StripeGatewayError:
    """One library error -> one gateway error. Messages pass through :func:`redact_secrets`."""
    status = exc.http_status
    error = exc.json_body.get("error") if isinstance(exc.json_body, dict) else None
    error = error if isinstance(error, dict) else {}
    code = exc.code or error.get("code")
    request_id = exc.request_id
    message = exc.user_message or str(exc) or "Stripe refused the request."
    common = {"http_status": status, "code": code, "request_id": request_id}

    if isinstance(exc, stripe.CardError):
        payment_intent = error.get("payment_intent")
        intent_id = payment_intent.get("id") if isinstance(payment_intent, dict) else None
        if code == "authentication_required" or error.get("decline_code") == "authentication_required":
            intent = None
            if isinstance(payment_intent, dict):
                try:
                    intent = PaymentIntent.from_stripe(payment_intent)
                except (KeyError, ValueError):
                    intent = None
            return AuthenticationRequired(message, payment_intent_id=intent_id, payment_intent=intent, **common)
        return CardDeclined(
            message,
            decline_code=error.get("decline_code"),
            payment_intent_id=intent_id,
            charge_id=error.get("charge"),
            **common,
        )
    if isinstance(exc, stripe.IdempotencyError):
        return IdempotencyConflict(message, **common)
    if isinstance(exc, stripe.InvalidRequestError):
        if status == 404:
            return NotFound(message, param=exc.param, **common)
        return InvalidRequest(message, param=exc.param, **common)
    if isinstance(exc, stripe.AuthenticationError):
        return AuthenticationFailed(message, **common)
    if isinstance(exc, stripe.PermissionError):
        return PermissionDenied(message, **common)
    if isinstance(exc, stripe.RateLimitError):
        return StripeRateLimited(message, retry_after=_retry_after(exc.headers), **common)
    if isinstance(exc, stripe.APIConnectionError):
        return StripeUnavailable(f"Stripe could not be reached: {message}", **common)
    if isinstance(exc, stripe.SignatureVerificationError):
        return StripeSignatureError(message, **common)
    if isinstance(exc, stripe.APIError):
        if status == 409:
            # In flight with the same key ("idempotency_key_in_use") or a lock timeout.
            error_type = error.get("type")
            if error_type == "idempotency_error" or (code or "").startswith("idempotency"):
                conflict = IdempotencyConflict(message, **common)
                conflict.transient = True
                return conflict
            return StripeUnavailable(message, **common)
        if status is None or status >= 500:
            return StripeUnavailable(message, **common)
        if status == 404:
            return NotFound(message, **common)  # an endpoint this server lacks (non-JSON 404)
        return StripeGatewayError(message, **common)
    return StripeGatewayError(message, **common)
