"""Typed results of the Xero client.

Xero answers PascalCase (accounting) or camelCase (identity); every record is read through
:class:`Fields`, which looks keys up case-insensitively and tolerates wrong types. Money is
``Decimal`` (the client parses JSON numbers as ``Decimal``), timestamps are aware datetimes,
calendar dates are ``date``. Each record keeps its payload in ``raw`` for fields not modelled yet.

Xero's dates come in two forms: the .NET JSON form ``/Date(1700000000000+0000)/`` (milliseconds
since the epoch, with the offset of the zone the value belongs to) and ISO 8601 (a missing zone
means UTC).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Generic, TypeVar

from integrations.vendor_http import RecordFields

T = TypeVar("T")

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


def parse_datetime(value: Any) -> datetime | None:
    """``/Date(ms±hhmm)/`` or ISO 8601 → aware UTC datetime; None when absent or unreadable."""
    parsed = _parse_local(value)
    return parsed.astimezone(UTC) if parsed else None


def parse_date(value: Any) -> date | None:
    """The calendar date of a Xero date field (``Date``, ``DueDate``): read in the zone the value
    carries, so ``/Date(1419937200000+1300)/`` is 31 Dec 2014, not the 30th."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    parsed = _parse_local(value)
    return parsed.date() if parsed else None


def _parse_local(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    match = _MS_DATE.match(text)
    if match:
        zone = UTC
        if match.group(2):
            sign = -1 if match.group(2)[0] == "-" else 1
            hours, minutes = int(match.group(2)[1:3]), int(match.group(2)[3:5])
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
        try:
            return datetime.fromtimestamp(int(match.group(1)) / 1000, tz=zone)
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def format_modified_since(value: datetime) -> str:
    """``If-Modified-Since`` as Xero documents it: a UTC timestamp ``yyyy-mm-ddThh:mm:ss``.

    Xero takes no fractions of a second, so the value is truncated (never rounded up): a record
    changed within that second comes again rather than being missed. Naive values are taken as UTC.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


# --- where-clause literals ----------------------------------------------------------------------


def where_literal(value: str | uuid.UUID | date | datetime | bool | int | Decimal) -> str:
    """A value as a literal of Xero's ``where`` syntax, so callers never paste user text into a filter.

    ``where_literal("O'Neil \\"Ltd\\"")`` → ``"O'Neil \\"Ltd\\""``; a UUID → ``guid("…")``; a date →
    ``DateTime(2024,01,31)``; a bool → ``true``/``false``. E.g.
    ``f'Contact.ContactID=={where_literal(contact_uuid)} AND Status=={where_literal("AUTHORISED")}'``.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, uuid.UUID):
        return f'guid("{value}")'
    if isinstance(value, datetime):
        v = value.astimezone(UTC) if value.tzinfo else value
        return f"DateTime({v.year},{v.month:02d},{v.day:02d},{v.hour:02d},{v.minute:02d},{v.second:02d})"
    if isinstance(value, date):
        return f"DateTime({value.year},{value.month:02d},{value.day:02d})"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        if any(ord(c) < 32 for c in value):
            raise ValueError("where literals cannot contain control characters")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise TypeError(f"no where literal for {type(value).__name__}")


# --- reading records ----------------------------------------------------------------------------


class Fields(RecordFields):
    """Case-insensitive, type-tolerant read access to one Xero record."""

    __slots__ = ()

    def when(self, *names: str) -> datetime | None:
        return parse_datetime(self.get(*names))

    def day(self, *names: str) -> date | None:
        return parse_date(self.get(*names))

    def messages(self, *names: str) -> tuple[str, ...]:
        """``[{"Message": "..."}]`` lists (``ValidationErrors``, ``Warnings``) → their messages."""
        return tuple(m for m in (item.text("Message") for item in self.objects(*names)) if m)


def _required(f: Fields, name: str) -> str:
    value = f.text(name)
    if not value:
        raise ValueError(f"Xero record without {name}")
    return value


# --- generic ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing. ``page_count``/``item_count`` come from Xero's ``pagination`` object
    when it sends one."""

    items: tuple[T, ...]
    page: int
    page_size: int
    page_count: int | None = None
    item_count: int | None = None

    @property
    def is_last(self) -> bool:
        if not self.items:
            return True
        if self.page_count is not None:
            return self.page >= self.page_count
        return len(self.items) < self.page_size


@dataclass(frozen=True)
class RateLimits:
    """The ``X-*Limit-Remaining`` headers of the latest answer (None: the header was absent, e.g.
    the tenant-less ``/connections`` carries only the app limit)."""

    minute_remaining: int | None = None
    day_remaining: int | None = None
    app_minute_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimits | None:
        def number(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        limits = cls(number("X-MinLimit-Remaining"), number("X-DayLimit-Remaining"), number("X-AppMinLimit-Remaining"))
        return None if limits == cls() else limits


# --- identity -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenSet:
    """An answer of the token endpoint. Refresh tokens rotate: after ``refresh`` the old refresh
    token dies (after a short grace period), so store ``refresh_token`` before using ``access_token``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime  # by our clock, from expires_in
    token_type: str = "Bearer"
    scopes: tuple[str, ...] = ()
    id_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any], now: datetime) -> TokenSet:
        f = Fields(data)
        expires_in = f.integer("expires_in")
        return cls(
            access_token=_required(f, "access_token"),
            refresh_token=f.text("refresh_token"),
            expires_at=now + timedelta(seconds=expires_in if expires_in is not None else 1800),
            token_type=f.text("token_type") or "Bearer",
            scopes=tuple((f.text("scope") or "").split()),
            id_token=f.text("id_token"),
        )

    @property
    def auth_event_id(self) -> str | None:
        """The ``authentication_event_id`` claim of the access token: pass it to
        ``XeroIdentity.connections`` to list only the organisations this sign-in connected.
        Read without verifying the signature (the token came straight from Xero over TLS)."""
        parts = self.access_token.split(".")
        if len(parts) != 3:
            return None
        try:
            claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        except (ValueError, binascii.Error):
            return None
        value = claims.get("authentication_event_id") if isinstance(claims, dict) else None
        return str(value) if value else None


@dataclass(frozen=True)
class Connection:
    """One organisation (tenant) the user connected to this app."""

    id: str  # the connection's id (DELETE /connections/{id} disconnects)
    tenant_id: str  # send as xero-tenant-id
    tenant_type: str | None
    tenant_name: str | None
    auth_event_id: str | None
    created_at: datetime | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Connection:
        f = Fields(data)
        return cls(
            id=_required(f, "id"),
            tenant_id=_required(f, "tenantId"),
            tenant_type=f.text("tenantType"),
            tenant_name=f.text("tenantName"),
            auth_event_id=f.text("authEventId"),
            created_at=f.when("createdDateUtc"),
            updated_at=f.when("updatedDateUtc"),
            raw=f.raw,
        )


# --- accounting ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Organisation:
    organisation_id: str
    name: str
    legal_name: str | None
    short_code: str | None
    base_currency: str | None
    country_code: str | None
    timezone: str | None
    status: str | None
    is_demo_company: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Organisation:
        f = Fields(data)
        return cls(
            organisation_id=_required(f, "OrganisationID"),
            name=f.text("Name") or "",
            legal_name=f.text("LegalName"),
            short_code=f.text("ShortCode"),
            base_currency=f.text("BaseCurrency"),
            country_code=f.text("CountryCode"),
            timezone=f.text("Timezone"),
            status=f.text("OrganisationStatus"),
            is_demo_company=f.flag("IsDemoCompany"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class Account:
    account_id: str
    code: str | None
    name: str
    type: str | None  # BANK, REVENUE, ...
    status: str | None  # ACTIVE, ARCHIVED
    account_class: str | None
    currency_code: str | None
    enable_payments_to_account: bool
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def accepts_payments(self) -> bool:
        """Payments can be applied to a bank account, or to one with "enable payments" ticked."""
        return self.type == "BANK" or self.enable_payments_to_account

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        f = Fields(data)
        return cls(
            account_id=_required(f, "AccountID"),
            code=f.text("Code"),
            name=f.text("Name") or "",
            type=f.text("Type"),
            status=f.text("Status"),
            account_class=f.text("Class"),
            currency_code=f.text("CurrencyCode"),
            enable_payments_to_account=f.flag("EnablePaymentsToAccount"),
            updated_at=f.when("UpdatedDateUTC"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class ContactPerson:
    first_name: str | None
    last_name: str | None
    email: str | None
    include_in_emails: bool

    @classmethod
    def from_fields(cls, f: Fields) -> ContactPerson:
        return cls(
            first_name=f.text("FirstName"),
            last_name=f.text("LastName"),
            email=f.text("EmailAddress"),
            include_in_emails=f.flag("IncludeInEmails"),
        )


@dataclass(frozen=True)
class Contact:
    contact_id: str
    name: str
    account_number: str | None
    contact_number: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str | None  # ACTIVE, ARCHIVED, GDPRREQUEST
    is_customer: bool
    contact_persons: tuple[ContactPerson, ...]
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def invoice_emails(self) -> tuple[str, ...]:
        """Where Xero sends this contact's invoices: the main address and every contact person
        marked ``IncludeInEmails``, without duplicates (case-insensitively), in Xero's order."""
        seen: set[str] = set()
        emails: list[str] = []
        candidates = [self.email, *(p.email for p in self.contact_persons if p.include_in_emails)]
        for email in candidates:
            if email and email.strip() and email.strip().lower() not in seen:
                seen.add(email.strip().lower())
                emails.append(email.strip())
        return tuple(emails)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contact:
        f = Fields(data)
        return cls(
            contact_id=_required(f, "ContactID"),
            name=f.text("Name") or "",
            account_number=f.text("AccountNumber"),
            contact_number=f.text("ContactNumber"),
            email=f.text("EmailAddress") or None,
            first_name=f.text("FirstName"),
            last_name=f.text("LastName"),
            status=f.text("ContactStatus"),
            is_customer=f.flag("IsCustomer"),
            contact_persons=tuple(ContactPerson.from_fields(p) for p in f.objects("ContactPersons")),
            updated_at=f.when("UpdatedDateUTC"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class Invoice:
    invoice_id: str
    invoice_number: str | None
    type: str | None  # ACCREC (sales) or ACCPAY (bill)
    status: str | None  # DRAFT, SUBMITTED, AUTHORISED, PAID, VOIDED, DELETED
    contact_id: str | None
    contact_name: str | None
    reference: str | None
    currency_code: str | None
    total: Decimal | None
    amount_due: Decimal | None
    amount_paid: Decimal | None
    amount_credited: Decimal | None
    date: date | None
    due_date: date | None
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Invoice:
        f = Fields(data)
        contact = f.child("Contact")
        return cls(
            invoice_id=_required(f, "InvoiceID"),
            invoice_number=f.text("InvoiceNumber"),
            type=f.text("Type"),
            status=f.text("Status"),
            contact_id=contact.text("ContactID"),
            contact_name=contact.text("Name"),
            reference=f.text("Reference"),
            currency_code=f.text("CurrencyCode"),
            total=f.decimal("Total"),
            amount_due=f.decimal("AmountDue"),
            amount_paid=f.decimal("AmountPaid"),
            amount_credited=f.decimal("AmountCredited"),
            date=f.day("Date"),
            due_date=f.day("DueDate"),
            updated_at=f.when("UpdatedDateUTC"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class Payment:
    payment_id: str
    invoice_id: str | None
    invoice_number: str | None
    account_id: str | None
    account_code: str | None
    date: date | None
    amount: Decimal | None
    currency_rate: Decimal | None
    reference: str | None
    status: str | None  # AUTHORISED or DELETED
    payment_type: str | None  # ACCRECPAYMENT, ...
    is_reconciled: bool
    updated_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Payment:
        f = Fields(data)
        invoice, account = f.child("Invoice"), f.child("Account")
        return cls(
            payment_id=_required(f, "PaymentID"),
            invoice_id=invoice.text("InvoiceID"),
            invoice_number=invoice.text("InvoiceNumber") or f.text("InvoiceNumber"),
            account_id=account.text("AccountID"),
            account_code=account.text("Code"),
            date=f.day("Date"),
            amount=f.decimal("Amount"),
            currency_rate=f.decimal("CurrencyRate"),
            reference=f.text("Reference"),
            status=f.text("Status"),
            payment_type=f.text("PaymentType"),
            is_reconciled=f.flag("IsReconciled"),
            updated_at=f.when("UpdatedDateUTC"),
            raw=f.raw,
        )


_CENT = Decimal("0.01")


@dataclass(frozen=True)
class PaymentDraft:
    """A payment to apply to an invoice: into the account given by id or by code (exactly one)."""

    invoice_id: str
    amount: Decimal
    date: date
    account_id: str | None = None
    account_code: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        if (self.account_id is None) == (self.account_code is None):
            raise ValueError("give exactly one of account_id and account_code")
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite() or self.amount <= 0:
            raise ValueError("amount must be a positive Decimal")
        if self.amount != self.amount.quantize(_CENT):
            raise ValueError("amount has more than two decimal places")
        if isinstance(self.date, datetime):
            raise ValueError("date must be a calendar date, not a datetime")

    def to_api(self) -> dict[str, Any]:
        account = {"AccountID": self.account_id} if self.account_id else {"Code": self.account_code}
        body: dict[str, Any] = {
            "Invoice": {"InvoiceID": self.invoice_id},
            "Account": account,
            "Date": self.date.isoformat(),
            "Amount": self.amount,
        }
        if self.reference:
            body["Reference"] = self.reference
        return body
