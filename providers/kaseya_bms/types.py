"""Typed results of the Kaseya BMS API client.

BMS answers camelCase while its OpenAPI document shows PascalCase, so every DTO is
read through :class:`Fields`, which looks keys up case-insensitively. Each result
keeps the original payload in ``raw`` for fields the portal does not model yet.

Dates are kept only within ``EARLIEST_DATE`` .. ``LATEST_DATE``: BMS (.NET) sends
``0001-01-01T00:00:00`` for "no date" and year 9999 for "never", which no time zone west
(or east) of UTC can show. Those read as empty, with a warning. Amounts are read as sent,
NaN and Infinity included: the sync's mapping knows what its columns hold and rejects them.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

from integrations.vendor_http import RecordFields

T = TypeVar("T")

logger = logging.getLogger(__name__)

# SQL Server's datetime starts in 1753: nothing real in BMS is older. Year 9999 is .NET's and
# SQL Server's last, BMS's "never". Within these bounds any time zone can show a date.
EARLIEST_DATE = datetime(1753, 1, 1, tzinfo=UTC)
LATEST_DATE = datetime(9999, 1, 1, tzinfo=UTC)  # excluded


class BmsModule(enum.IntEnum):
    """``MainMenuId`` values of ``UserAccessRights``.

    The real ids are undocumented; this numbering is our convention, shared with the sandbox.
    """

    HOME = 1
    SERVICE_DESK = 2
    CRM = 3
    PROJECTS = 4
    FINANCE = 5
    ADMIN = 6


# --- parsing helpers ---------------------------------------------------------------------------


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 → aware UTC datetime; a missing zone designator means UTC. None when empty,
    unreadable or outside ``EARLIEST_DATE`` .. ``LATEST_DATE`` (see the module's docstring)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    try:
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:  # an offset that takes it out of the calendar (0001-01-01T00:00+05:00)
        return None
    return parsed if EARLIEST_DATE <= parsed < LATEST_DATE else None


# (field, value) -> when it was last warned about (time.monotonic()).
_dates_warned: dict[tuple[str, str], float] = {}
_WARN_AGAIN_AFTER = 3600.0


def _warn_unusable_date(record_id: Any, name: str, value: Any) -> None:
    """A warning per field and value an hour (a sentinel like 9999-12-31 may fill a whole
    listing, every run); the repeats at debug level."""
    key, now = (name, str(value)), time.monotonic()
    repeated = now - _dates_warned.get(key, -_WARN_AGAIN_AFTER) < _WARN_AGAIN_AFTER
    if not repeated:
        if len(_dates_warned) >= 1000:
            _dates_warned.clear()
        _dates_warned[key] = now
    logger.log(
        logging.DEBUG if repeated else logging.WARNING,
        "BMS record %s: %s=%r is not a date the portal can show; kept empty.",
        record_id,
        name,
        value,
    )


def format_datetime(value: datetime) -> str:
    """Aware or naive (taken as UTC) datetime → ``2024-01-31T12:00:00Z`` for BMS filters and bodies."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Fields(RecordFields):
    """Case-insensitive, type-tolerant read access to one BMS DTO."""

    __slots__ = ()

    def when(self, *names: str) -> datetime | None:
        value = self.get(*names)
        parsed = parse_datetime(value)
        if parsed is None and value is not None and value != "":
            _warn_unusable_date(self._by_lower.get("id"), names[0], value)
        return parsed


def _id(f: Fields) -> int:
    value = f.integer("Id")
    if value is None:
        raise ValueError("BMS record without an Id")
    return value


# --- generic -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list endpoint. ``total_records`` is None where BMS does not give it."""

    items: tuple[T, ...]
    page: int
    page_size: int
    total_records: int | None = None


@dataclass(frozen=True)
class LookupItem:
    id: int
    name: str
    is_active: bool = True
    is_default: bool = False
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> LookupItem:
        f = Fields(data)
        return cls(
            id=_id(f),
            name=f.text("Name") or "",
            # Queue/issue-type lookups carry IsActive; sub-issue types don't, so default to active.
            is_active=f.flag("IsActive", default=True),
            is_default=f.flag("IsDefault"),
            raw=f.raw,
        )


# --- security ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessRight:
    main_menu_id: int
    can_view: bool
    can_modify: bool
    can_delete: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> AccessRight:
        f = Fields(data)
        return cls(
            main_menu_id=f.integer("MainMenuId") or 0,
            can_view=f.flag("CanView"),
            can_modify=f.flag("CanModify"),
            can_delete=f.flag("CanDelete"),
        )


@dataclass(frozen=True)
class UserInfo:
    user_id: int | None
    tenant_id: int | None
    full_name: str | None
    email: str | None
    is_system_admin: bool
    access_rights: list[AccessRight]
    # The API user's own CRM account: the MSP's account, where internal tickets belong.
    account_id: int | None = None
    # How the tenant shows money and dates: "USD", "en-US", "MM/dd/yyyy" (.NET notation).
    currency_code: str | None = None
    culture_code: str | None = None
    date_format: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> UserInfo:
        f = Fields(data)
        return cls(
            user_id=f.integer("UserId"),
            tenant_id=f.integer("TenantId"),
            full_name=f.text("FullName"),
            email=f.text("EmailAddress"),
            is_system_admin=f.flag("IsUserSystemAdmin"),
            access_rights=[AccessRight.from_api(r.raw) for r in f.objects("UserAccessRights")],
            account_id=f.integer("AccountId") or None,  # 0: none
            currency_code=f.text("CurrencyCode"),
            culture_code=f.text("CultureCode"),
            date_format=f.text("DateFormat"),
            raw=f.raw,
        )

    def rights_for(self, module: BmsModule | int) -> AccessRight | None:
        """The access right for a module; None when BMS lists none (= no access)."""
        matches = [r for r in self.access_rights if r.main_menu_id == int(module)]
        if not matches:
            return None
        # A module can appear once per menu category; any grant counts.
        return AccessRight(
            main_menu_id=int(module),
            can_view=any(r.can_view for r in matches),
            can_modify=any(r.can_modify for r in matches),
            can_delete=any(r.can_delete for r in matches),
        )


# --- CRM ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    address1: str | None
    address2: str | None
    city: str | None
    state: str | None
    zip_code: str | None
    country: str | None
    phone: str | None
    email: str | None
    is_main: bool
    is_billing: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Address:
        f = Fields(data)
        return cls(
            address1=f.text("Address1"),
            address2=f.text("Address2"),
            city=f.text("City"),
            state=f.text("State"),
            zip_code=f.text("ZipCode"),
            country=f.text("Country", "CountryName"),
            phone=f.text("Phone"),
            email=f.text("EmailAddress"),
            is_main=f.flag("IsMain"),
            is_billing=f.flag("IsBilling"),
        )


@dataclass(frozen=True)
class Location:
    id: int
    name: str | None
    is_main: bool
    is_active: bool
    addresses: tuple[Address, ...] = ()

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Location:
        f = Fields(data)
        return cls(
            id=_id(f),
            name=f.text("LocationName", "Name"),
            is_main=f.flag("IsMain"),
            is_active=f.flag("IsActive", default=True),
            addresses=tuple(Address.from_api(a.raw) for a in f.objects("Addresses")),
        )


@dataclass(frozen=True)
class LocationRef:
    """Item of ``/crm/accounts/{id}/locations/lookup``."""

    id: int
    name: str | None
    account_id: int | None
    is_main: bool

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> LocationRef:
        f = Fields(data)
        return cls(
            id=_id(f), name=f.text("Name", "LocationName"), account_id=f.integer("AccountId"), is_main=f.flag("IsMain")
        )


@dataclass(frozen=True)
class Account:
    id: int
    code: str | None
    name: str | None
    type: str | None
    type_id: int | None
    parent_id: int | None
    is_active: bool
    is_billing: bool
    website: str | None
    currency_name: str | None
    net_days: Decimal | None
    credit_limit: Decimal | None
    locations: tuple[Location, ...]
    created_on: datetime | None
    modified_on: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Account:
        f = Fields(data)
        return cls(
            id=_id(f),
            code=f.text("AccountCode"),
            name=f.text("AccountName"),
            type=f.text("AccountType"),
            type_id=f.integer("AccountTypeId"),
            parent_id=f.integer("ParentId"),
            is_active=f.flag("IsActive", default=True),
            is_billing=f.flag("IsBilling"),
            website=f.text("Website"),
            currency_name=f.text("CurrencyName"),
            net_days=f.decimal("NetDays"),
            credit_limit=f.decimal("CreditLimit"),
            locations=tuple(Location.from_api(loc.raw) for loc in f.objects("Locations")),
            created_on=f.when("CreatedOn"),
            modified_on=f.when("ModifiedOn"),
            raw=f.raw,
        )

    @property
    def billing_address(self) -> Address | None:
        """The address flagged ``IsBilling`` (active locations first)."""
        ordered = sorted(self.locations, key=lambda loc: not loc.is_active)
        for loc in ordered:
            for address in loc.addresses:
                if address.is_billing:
                    return address
        return None


def _default_value(items: Iterable[Fields], key: str) -> str | None:
    items = list(items)
    for item in items:
        if item.flag("IsDefault") and item.text(key):
            return item.text(key)
    return next((item.text(key) for item in items if item.text(key)), None)


@dataclass(frozen=True)
class Contact:
    id: int
    account_id: int | None
    account_name: str | None
    location_id: int | None
    first_name: str | None
    last_name: str | None
    job_title: str | None
    email: str | None
    phone: str | None
    is_poc: bool
    receives_invoices: bool
    is_active: bool
    created_on: datetime | None
    modified_on: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contact:
        f = Fields(data)
        return cls(
            id=_id(f),
            account_id=f.integer("AccountId"),
            account_name=f.text("AccountName"),
            location_id=f.integer("LocationId"),
            first_name=f.text("FirstName"),
            last_name=f.text("LastName"),
            job_title=f.text("JobTitle"),
            # Summary DTOs carry Emails[]/Phones[]; search/lookup DTOs a flat EmailAddress/Phone.
            email=_default_value(f.objects("Emails"), "EmailAddress") or f.text("EmailAddress", "Email"),
            phone=_default_value(f.objects("Phones"), "Phone") or f.text("Phone"),
            is_poc=f.flag("IsPoc", "Poc"),
            # The spec spells it CanRecieveInvoices; other DTOs use (Can)ReceiveInvoices/RecieveInvoices.
            receives_invoices=f.flag("CanRecieveInvoices", "CanReceiveInvoices", "RecieveInvoices", "ReceiveInvoices"),
            is_active=f.flag("IsActive", default=True),
            created_on=f.when("CreatedOn"),
            modified_on=f.when("ModifiedOn"),
            raw=f.raw,
        )

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)


# --- finance -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """``ClientContractSummaryOutputDto``; BMS gives no AccountId here, only AccountName."""

    id: int
    name: str | None
    number: str | None
    account_name: str | None
    contract_type: str | None
    billing_cycle: str | None
    billing_price: Decimal | None
    status: str | None
    start_date: datetime | None
    end_date: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Contract:
        f = Fields(data)
        return cls(
            id=_id(f),
            name=f.text("ContractName", "Name"),
            number=f.text("ContractNumber"),
            account_name=f.text("AccountName"),
            contract_type=f.text("ContractType"),
            billing_cycle=f.text("BillingCycle"),
            billing_price=f.decimal("ContractBillingPrice"),
            status=f.text("Status"),
            start_date=f.when("StartDate"),
            end_date=f.when("EndDate"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class ContractRef:
    """Item of ``/finance/contracts/lookup``."""

    id: int
    name: str | None
    is_default: bool
    is_active: bool
    sla_id: int | None
    end_date: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> ContractRef:
        f = Fields(data)
        return cls(
            id=_id(f),
            name=f.text("Name"),
            is_default=f.flag("IsDefault"),
            is_active=f.flag("IsActive", default=True),
            sla_id=f.integer("SLAId"),
            end_date=f.when("EndDate"),
        )


@dataclass(frozen=True)
class InvoiceLineItem:
    id: int
    invoice_id: int | None
    name: str | None
    description: str | None
    type_name: str | None
    qty: Decimal | None
    unit_price: Decimal | None
    total_price: Decimal | None
    value_date: datetime | None
    contract_id: int | None
    is_taxable: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> InvoiceLineItem:
        f = Fields(data)
        return cls(
            id=_id(f),
            invoice_id=f.integer("InvoiceId"),
            name=f.text("Name"),
            description=f.text("Description"),
            type_name=f.text("TypeName"),
            qty=f.decimal("Qty"),
            unit_price=f.decimal("UnitPrice"),
            total_price=f.decimal("TotalPrice"),
            value_date=f.when("ValueDate"),
            contract_id=f.integer("ContractId") or None,
            is_taxable=f.flag("IsTaxable"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class Invoice:
    id: int
    invoice_number: str | None
    status_id: int | None
    status_name: str | None
    account_id: int | None
    account_name: str | None
    location_id: int | None
    po_number: str | None
    notes: str | None
    total_price: Decimal | None
    total_tax: Decimal | None
    grand_total: Decimal | None
    payment_due: Decimal | None
    paid_amount: Decimal | None
    invoice_date: datetime | None
    due_date: datetime | None
    sent_on: datetime | None
    created_on: datetime | None
    modified_on: datetime | None
    contact_first_name: str | None
    contact_last_name: str | None
    email: str | None
    #: Only filled by ``get_invoice``; list answers carry no lines.
    line_items: tuple[InvoiceLineItem, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Invoice:
        f = Fields(data)
        return cls(
            id=_id(f),
            invoice_number=f.text("InvoiceNumber"),
            status_id=f.integer("StatusId"),
            status_name=f.text("StatusName"),
            account_id=f.integer("AccountId"),
            account_name=f.text("AccountName"),
            location_id=f.integer("AccountLocationId"),
            po_number=f.text("PONumber"),
            notes=f.text("Notes"),
            total_price=f.decimal("TotalPrice"),
            total_tax=f.decimal("TotalTax"),
            grand_total=f.decimal("GrandTotal"),
            payment_due=f.decimal("PaymentDue"),
            paid_amount=f.decimal("PaidAmount"),
            invoice_date=f.when("InvoiceDate"),
            due_date=f.when("DueDate"),
            sent_on=f.when("SentOn"),
            created_on=f.when("CreatedOn"),
            modified_on=f.when("ModifiedOn"),
            contact_first_name=f.text("ContactFirstName"),
            contact_last_name=f.text("ContactLastName"),
            email=f.text("EmailAddress"),
            line_items=tuple(InvoiceLineItem.from_api(li.raw) for li in f.objects("LineItems")),
            raw=f.raw,
        )


# --- service desk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ticket:
    id: int
    ticket_number: str | None
    title: str | None
    details: str | None
    account_id: int | None
    account_name: str | None
    location_id: int | None
    contact_id: int | None
    queue_id: int | None
    status_id: int | None
    status_name: str | None
    priority_id: int | None
    priority_name: str | None
    type_id: int | None
    issue_type_id: int | None
    sub_issue_type_id: int | None
    source_id: int | None
    open_date: datetime | None
    due_date: datetime | None
    completed_date: datetime | None
    last_activity_update: datetime | None
    created_on: datetime | None
    modified_on: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Ticket:
        f = Fields(data)
        return cls(
            id=_id(f),
            ticket_number=f.text("TicketNumber"),
            title=f.text("Title"),
            details=f.text("Details"),
            account_id=f.integer("AccountId"),
            account_name=f.text("AccountName"),
            location_id=f.integer("LocationId"),
            contact_id=f.integer("ContactId"),
            queue_id=f.integer("QueueId"),
            status_id=f.integer("StatusId"),
            status_name=f.text("StatusName"),
            priority_id=f.integer("PriorityId"),
            priority_name=f.text("PriorityName"),
            type_id=f.integer("TypeId"),
            issue_type_id=f.integer("IssueTypeId"),
            sub_issue_type_id=f.integer("SubIssueTypeId"),
            source_id=f.integer("SourceId"),
            open_date=f.when("OpenDate"),
            due_date=f.when("DueDate"),
            completed_date=f.when("CompletedDate"),
            last_activity_update=f.when("LastActivityUpdate"),
            created_on=f.when("CreatedOn"),
            modified_on=f.when("ModifiedOn"),
            raw=f.raw,
        )


@dataclass(frozen=True)
class TicketDraft:
    """Input of ``create_ticket`` (``TicketInputDto``). Ids must be ≥ 1 except ``source_id``."""

    title: str
    details: str
    account_id: int
    location_id: int
    status_id: int
    priority_id: int
    type_id: int
    source_id: int
    open_date: datetime
    contact_id: int | None = None
    queue_id: int | None = None
    issue_type_id: int | None = None
    sub_issue_type_id: int | None = None
    contract_id: int | None = None
    assignee_id: int | None = None
    work_type_id: int | None = None
    sla_id: int | None = None
    due_date: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Title": self.title,
            "Details": self.details,
            "AccountId": self.account_id,
            "LocationId": self.location_id,
            "StatusId": self.status_id,
            "PriorityId": self.priority_id,
            "TypeId": self.type_id,
            "SourceId": self.source_id,
            "OpenDate": format_datetime(self.open_date),
        }
        optional = {
            "ContactId": self.contact_id,
            "QueueId": self.queue_id,
            "IssueTypeId": self.issue_type_id,
            "SubIssueTypeId": self.sub_issue_type_id,
            "ContractId": self.contract_id,
            "AssigneeId": self.assignee_id,
            "WorkTypeId": self.work_type_id,
            "SLAId": self.sla_id,
            "DueDate": format_datetime(self.due_date) if self.due_date else None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


# --- attachments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    id: int
    module_id: int | None
    object_id: int | None
    file_name: str | None
    file_type: str | None
    created_on: datetime | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Attachment:
        f = Fields(data)
        return cls(
            id=_id(f),
            module_id=f.integer("ModuleId"),
            object_id=f.integer("ObjectId"),
            file_name=f.text("OriginalFileName", "AliasName"),
            file_type=f.text("FileType"),
            created_on=f.when("CreatedOn"),
            raw=f.raw,
        )
