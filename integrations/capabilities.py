"""What an installation offers, one protocol per capability, in the portal's own types.

An installation whose provider declares a capability implements its protocol. The types
here are neutral: a PSA's ticket, its drop-down lists, an invoice PDF, billing addresses.
Each provider maps them to its vendor's API in its own package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from integrations.base import IntegrationError

if TYPE_CHECKING:
    from billing.models import Invoice
    from integrations.base import SyncedEntity
    from integrations.models import SyncRun
    from integrations.sync.engine import SyncEngine
    from organizations.models import Organization


# --- sync ------------------------------------------------------------------------------------------


class SyncCapable(Protocol):
    def synced_entities(self) -> list[SyncedEntity]:
        """The kinds of records the sync writes, in the card's order."""
        ...

    def sync_engine(self, run: SyncRun, *, worker_token: str) -> SyncEngine:
        """The engine that executes ``run`` with this installation's plan and client; its
        writes are fenced by ``worker_token``. Raises ValueError (or SecretUnreadable) when the
        settings cannot be used (the run fails with a message to fix them)."""
        ...


# --- service tickets ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketDraft:
    """A ticket to open in the PSA. Ids are the PSA's own (from ``TicketLookups``)."""

    title: str
    details: str
    account_id: int  # the PSA account (organization) the ticket concerns
    location_id: int | None  # the account's location when the portal knows it; else the PSA's main one
    status_id: int
    priority_id: int
    type_id: int
    source_id: int
    open_date: datetime
    queue_id: int | None = None
    issue_type_id: int | None = None
    sub_issue_type_id: int | None = None


@dataclass(frozen=True)
class ExternalTicket:
    """A ticket as the PSA knows it."""

    id: int
    number: str
    account_id: int | None


class ServiceTickets(Protocol):
    def create_ticket(self, draft: TicketDraft) -> ExternalTicket:
        """Open the ticket. Not retried blindly: a lost answer is found with ``find_ticket``."""
        ...

    def find_ticket(self, *, marker: str, account_id: int, created_from: datetime) -> ExternalTicket | None:
        """The ticket whose details contain ``marker``, opened since ``created_from``."""
        ...


# --- ticket lookups ------------------------------------------------------------------------------


@dataclass
class Option:
    id: int
    name: str
    is_default: bool = False


@dataclass
class TicketLookups:
    queues: list[Option] = field(default_factory=list)
    priorities: list[Option] = field(default_factory=list)
    statuses: list[Option] = field(default_factory=list)
    issue_types: list[Option] = field(default_factory=list)
    ticket_types: list[Option] = field(default_factory=list)
    sources: list[Option] = field(default_factory=list)
    # False: the PSA has no lookup for it; the options are the values seen on synced tickets.
    ticket_types_from_psa: bool = True
    sources_from_psa: bool = True

    def names(self, attr: str) -> dict[int, str]:
        return {o.id: o.name for o in getattr(self, attr)}

    def default_id(self, attr: str) -> int | None:
        options = getattr(self, attr)
        for option in options:
            if option.is_default:
                return option.id
        return options[0].id if options else None


class TicketLookupsCapable(Protocol):
    def ticket_lookups(self) -> TicketLookups: ...

    def sub_issue_types(self, issue_type_id: int) -> list[Option]: ...

    def account_problem(self, account_id: int) -> str | None:
        """Why tickets cannot be opened on this PSA account (None: they can)."""
        ...


# --- invoice PDFs and billing contacts -------------------------------------------------------------


class InvoicePdfs(Protocol):
    def invoice_pdf(self, invoice: Invoice, *, max_bytes: int) -> bytes | None:
        """The invoice's PDF in this system; None when it has none. Raises IntegrationError."""
        ...


class BillingContacts(Protocol):
    def billing_contact_emails(self, organization: Organization) -> list[str]:
        """The organization's billing e-mail addresses in this system (may be empty)."""
        ...


# --- payment posting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentPosting:
    """One payment allocation (a portal payment's share for one invoice) to record in the accounting
    package against that invoice, into the account chosen in the installation's settings."""

    reference: str  # the portal's id of this allocation: the posted payment carries it (finds a lost answer)
    invoice_number: str
    amount: Decimal  # positive, at most two decimals, in ``currency``
    currency: str  # ISO 4217, e.g. "USD"; must be the invoice's
    paid_on: date


@dataclass(frozen=True)
class PostedPayment:
    external_id: str  # the accounting package's payment id
    created: bool  # False: an earlier attempt had posted it already (found by its reference)


class PostingRefused(IntegrationError):
    """The accounting package refused the posting: the invoice is not there, was voided, edited or
    paid, the amount exceeds what is due, the account does not accept payments... Retrying the same
    posting fails the same way until someone fixes the cause. ``messages`` are the package's words."""

    def __init__(self, message: str, *, messages: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.messages = messages or (message,)


class PaymentPoster(Protocol):
    """Records portal payments in the accounting package, exactly once.

    ``idempotency_key``: the same key for every retry of a posting whose outcome is unclear (the
    package replays its first answer); a new key after a refusal has been fixed (the package would
    replay the refusal). Transient failures raise an ``IntegrationError`` with ``transient`` set:
    the outcome is unknown, post again (it looks the reference up before creating anything)."""

    def post_payment(self, posting: PaymentPosting, *, idempotency_key: str) -> PostedPayment:
        """Look ``posting.reference`` up on the invoice first; create the payment only when absent.
        Raises PostingRefused with the package's messages."""
        ...

    def reverse_payment(self, *, external_id: str, idempotency_key: str) -> None:
        """Reverse (delete) a posted payment, e.g. after a refund. Reversing one already reversed
        succeeds. Raises PostingRefused when the package will not."""
        ...
