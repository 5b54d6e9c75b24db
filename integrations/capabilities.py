"""What an installation offers, one protocol per capability, in the portal's own types.

An installation whose provider declares a capability implements its protocol. The types
here are neutral: a PSA's ticket, its drop-down lists, an invoice PDF, billing addresses.
Each provider maps them to its vendor's API in its own package.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

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
