"""Typed results of the Stripe gateway: frozen dataclasses read from Stripe's JSON.

Invariants:
- Amounts are integers of the currency's minor unit, as Stripe sends them
  (:mod:`.money` converts); currencies are upper-case ISO codes.
- A field Stripe (or localstripe) left out is ``None``, never a guess. Each result keeps the
  payload in ``raw`` (excluded from ``repr``: it may hold a ``client_secret``).
- Related objects are read as ids whether Stripe sent an id or an expanded object (localstripe
  expands ``latest_charge``).
- ``from_stripe`` reads a plain ``dict`` (``StripeObject.to_dict()`` or a webhook's JSON), so the
  same types serve API answers and event payloads.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def _id_of(value: Any) -> str | None:
    """An id whether the field was sent as an id or as an expanded object."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        found = value.get("id")
        return str(found) if found is not None else None
    return str(value)


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _currency(value: Any) -> str | None:
    return str(value).upper() if value else None


def _timestamp(value: Any) -> datetime | None:
    seconds = _int(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


def _metadata(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items()}


class PaymentIntentStatus(enum.StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    REQUIRES_CAPTURE = "requires_capture"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


class SetupIntentStatus(enum.StrEnum):
    REQUIRES_PAYMENT_METHOD = "requires_payment_method"
    REQUIRES_CONFIRMATION = "requires_confirmation"
    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    CANCELED = "canceled"
    SUCCEEDED = "succeeded"


class CardFunding(enum.StrEnum):
    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class AccountInfo:
    """Who the key belongs to. On a server without ``GET /v1/account`` (localstripe) only
    ``key_works`` is known and every other field is ``None``."""

    key_works: bool
    id: str | None = None
    display_name: str | None = None
    country: str | None = None
    default_currency: str | None = None
    charges_enabled: bool | None = None
    payouts_enabled: bool | None = None
    livemode: bool | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> AccountInfo:
        settings = data.get("settings") or {}
        dashboard = settings.get("dashboard") or {} if isinstance(settings, Mapping) else {}
        profile = data.get("business_profile") or {}
        name = _text(dashboard.get("display_name")) or _text(profile.get("name"))
        return cls(
            key_works=True,
            id=_text(data.get("id")),
            display_name=name,
            country=_text(data.get("country")),
            default_currency=_currency(data.get("default_currency")),
            charges_enabled=data.get("charges_enabled"),
            payouts_enabled=data.get("payouts_enabled"),
            livemode=data.get("livemode"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Customer:
    id: str
    name: str | None
    email: str | None
    metadata: dict[str, str]
    deleted: bool = False
    created: datetime | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Customer:
        return cls(
            id=str(data["id"]),
            name=_text(data.get("name")),
            email=_text(data.get("email")),
            metadata=_metadata(data.get("metadata")),
            deleted=bool(data.get("deleted", False)),
            created=_timestamp(data.get("created")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class CardDetails:
    """What the portal may store about a card: never the number."""

    brand: str | None
    last4: str | None
    exp_month: int | None
    exp_year: int | None
    funding: CardFunding
    country: str | None
    fingerprint: str | None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> CardDetails:
        funding = str(data.get("funding") or "unknown")
        return cls(
            brand=_text(data.get("brand")),
            last4=_text(data.get("last4")),
            exp_month=_int(data.get("exp_month")),
            exp_year=_int(data.get("exp_year")),
            funding=CardFunding(funding) if funding in CardFunding._value2member_map_ else CardFunding.UNKNOWN,
            country=_text(data.get("country")),
            fingerprint=_text(data.get("fingerprint")),
        )


@dataclass(frozen=True)
class PaymentMethod:
    id: str
    type: str
    customer: str | None
    card: CardDetails | None  # type "card" only
    last4: str | None  # card or bank account (sepa_debit, us_bank_account)
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> PaymentMethod:
        kind = str(data.get("type") or "")
        card = data.get("card") if kind == "card" else None
        details = data.get(kind) if kind else None
        return cls(
            id=str(data["id"]),
            type=kind,
            customer=_id_of(data.get("customer")),
            card=CardDetails.from_stripe(card) if isinstance(card, Mapping) else None,
            last4=_text(details.get("last4")) if isinstance(details, Mapping) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class PaymentError:
    """``last_payment_error`` / ``last_setup_error``: why the latest attempt failed."""

    code: str | None
    decline_code: str | None
    message: str | None
    type: str | None

    @classmethod
    def from_stripe(cls, data: Any) -> PaymentError | None:
        if not isinstance(data, Mapping) or not data:
            return None
        return cls(
            code=_text(data.get("code")),
            decline_code=_text(data.get("decline_code")),
            message=_text(data.get("message")),
            type=_text(data.get("type")),
        )


def _next_action_type(data: Mapping[str, Any]) -> str | None:
    action = data.get("next_action")
    if not action:
        return None
    return _text(action.get("type")) if isinstance(action, Mapping) else "unknown"


@dataclass(frozen=True)
class SetupIntent:
    id: str
    status: SetupIntentStatus
    customer: str | None
    payment_method: str | None
    usage: str | None
    payment_method_types: tuple[str, ...]
    next_action_type: str | None  # e.g. "use_stripe_sdk" while 3-D Secure is pending
    last_error: PaymentError | None
    metadata: dict[str, str]
    client_secret: str | None = field(default=None, repr=False)  # for Stripe.js only; never log
    raw: dict = field(default_factory=dict, repr=False, compare=False)
    mandate: str | None = None  # a bank debit's mandate, once confirmed (localstripe has none)

    @property
    def has_next_action(self) -> bool:
        return self.next_action_type is not None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> SetupIntent:
        return cls(
            id=str(data["id"]),
            status=SetupIntentStatus(data["status"]),
            customer=_id_of(data.get("customer")),
            payment_method=_id_of(data.get("payment_method")),
            usage=_text(data.get("usage")),
            payment_method_types=tuple(data.get("payment_method_types") or ()),
            next_action_type=_next_action_type(data),
            last_error=PaymentError.from_stripe(data.get("last_setup_error")),
            metadata=_metadata(data.get("metadata")),
            client_secret=_text(data.get("client_secret")),
            raw=dict(data),
            mandate=_id_of(data.get("mandate")),
        )


@dataclass(frozen=True)
class Mandate:
    """The customer's authorisation of a bank debit (SEPA): when and from where it was
    accepted, as Stripe recorded it (``accepted_at`` and the address are None when not given)."""

    id: str
    status: str | None  # active, inactive, pending
    type: str | None  # multi_use, single_use
    acceptance_type: str | None  # online, offline
    accepted_at: datetime | None
    ip_address: str | None
    user_agent: str | None
    payment_method: str | None
    reference: str | None  # the bank's mandate reference (SEPA)
    url: str | None  # Stripe's page with the mandate
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Mandate:
        acceptance = data.get("customer_acceptance") or {}
        online = acceptance.get("online") or {} if isinstance(acceptance, Mapping) else {}
        details = data.get("payment_method_details") or {}
        kind = details.get("type") if isinstance(details, Mapping) else None
        bank = details.get(kind) or {} if kind and isinstance(details, Mapping) else {}
        return cls(
            id=str(data["id"]),
            status=_text(data.get("status")),
            type=_text(data.get("type")),
            acceptance_type=_text(acceptance.get("type")) if isinstance(acceptance, Mapping) else None,
            accepted_at=_timestamp(acceptance.get("accepted_at")) if isinstance(acceptance, Mapping) else None,
            ip_address=_text(online.get("ip_address")) if isinstance(online, Mapping) else None,
            user_agent=_text(online.get("user_agent")) if isinstance(online, Mapping) else None,
            payment_method=_id_of(data.get("payment_method")),
            reference=_text(bank.get("reference")) if isinstance(bank, Mapping) else None,
            url=_text(bank.get("url")) if isinstance(bank, Mapping) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class PaymentIntent:
    id: str
    status: PaymentIntentStatus
    amount: int
    amount_received: int | None  # None where the server does not report it (localstripe)
    currency: str
    customer: str | None
    payment_method: str | None
    latest_charge: str | None
    capture_method: str | None
    next_action_type: str | None
    last_payment_error: PaymentError | None
    metadata: dict[str, str]
    created: datetime | None
    livemode: bool | None
    client_secret: str | None = field(default=None, repr=False)  # for Stripe.js only; never log
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def has_next_action(self) -> bool:
        return self.next_action_type is not None

    @property
    def succeeded(self) -> bool:
        return self.status is PaymentIntentStatus.SUCCEEDED

    @property
    def decline_code(self) -> str | None:
        error = self.last_payment_error
        return (error.decline_code or error.code) if error else None

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> PaymentIntent:
        return cls(
            id=str(data["id"]),
            status=PaymentIntentStatus(data["status"]),
            amount=int(data["amount"]),
            amount_received=_int(data.get("amount_received")),
            currency=_currency(data.get("currency")) or "",
            customer=_id_of(data.get("customer")),
            payment_method=_id_of(data.get("payment_method")),
            latest_charge=_id_of(data.get("latest_charge")),
            capture_method=_text(data.get("capture_method")),
            next_action_type=_next_action_type(data),
            last_payment_error=PaymentError.from_stripe(data.get("last_payment_error")),
            metadata=_metadata(data.get("metadata")),
            created=_timestamp(data.get("created")),
            livemode=data.get("livemode"),
            client_secret=_text(data.get("client_secret")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Refund:
    id: str
    status: str | None  # pending, requires_action, succeeded, failed, canceled
    amount: int
    currency: str
    payment_intent: str | None
    charge: str | None
    reason: str | None
    failure_reason: str | None
    metadata: dict[str, str]
    created: datetime | None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Refund:
        return cls(
            id=str(data["id"]),
            status=_text(data.get("status")),
            amount=int(data["amount"]),
            currency=_currency(data.get("currency")) or "",
            payment_intent=_id_of(data.get("payment_intent")),
            charge=_id_of(data.get("charge")),
            reason=_text(data.get("reason")),
            failure_reason=_text(data.get("failure_reason")),
            metadata=_metadata(data.get("metadata")),
            created=_timestamp(data.get("created")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class Event:
    """A Stripe event, from the API or a verified webhook. ``data_object`` is the object as it
    was when the event happened; read it with the matching ``from_stripe`` (e.g.
    ``PaymentIntent.from_stripe(event.data_object)``) or re-read the object by ``object_id``."""

    id: str
    type: str
    created: datetime | None
    api_version: str | None  # localstripe always says "2017-08-15"
    livemode: bool | None
    object_type: str | None
    object_id: str | None
    data_object: dict = field(repr=False)
    previous_attributes: dict | None = field(default=None, repr=False)
    request_id: str | None = None
    #: The ``Idempotency-Key`` of the API request that caused the event (real Stripe only).
    request_idempotency_key: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_stripe(cls, data: Mapping[str, Any]) -> Event:
        body = data.get("data") or {}
        obj = body.get("object") if isinstance(body, Mapping) else None
        obj = dict(obj) if isinstance(obj, Mapping) else {}
        request = data.get("request")
        request_id = key = None
        if isinstance(request, Mapping):
            request_id, key = _text(request.get("id")), _text(request.get("idempotency_key"))
        elif request:
            request_id = str(request)  # API versions before 2017-05-25 sent the id alone
        previous = body.get("previous_attributes") if isinstance(body, Mapping) else None
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            created=_timestamp(data.get("created")),
            api_version=_text(data.get("api_version")),
            livemode=data.get("livemode"),
            object_type=_text(obj.get("object")),
            object_id=_text(obj.get("id")),
            data_object=obj,
            previous_attributes=dict(previous) if isinstance(previous, Mapping) else None,
            request_id=request_id,
            request_idempotency_key=key,
            raw=dict(data),
        )
