"""What an installation offers, one protocol per capability, in the portal's own types.

An installation whose provider declares a capability implements its protocol. The types
here are neutral: a PSA's ticket, its drop-down lists, an invoice PDF, billing addresses.
Each provider maps them to its vendor's API in its own package.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
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

    def own_account_id(self) -> int | None:
        """The MSP's own account in the PSA as the PSA states it (the API user's); None when it
        does not say. Raises IntegrationError."""
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


# --- payments ------------------------------------------------------------------------------------
# Card data never reaches the portal: the browser confirms a setup (3-D Secure included) with the
# processor's script, and the portal keeps only references and what a client needs to recognise
# a method. Amounts cross this interface in the currency's minor units (``to_minor_units``).


class MethodKind(enum.StrEnum):
    CARD = "card"
    SEPA_DEBIT = "sepa_debit"


class ChargeState(enum.StrEnum):
    """Where a charge stands at the processor, in the portal's words."""

    REQUIRES_CONFIRMATION = "requires_confirmation"  # created, nothing charged yet
    REQUIRES_ACTION = "requires_action"  # the cardholder must authenticate (3-D Secure)
    PROCESSING = "processing"  # accepted, outcome later (bank debits)
    SUCCEEDED = "succeeded"  # the money moved
    FAILED = "failed"  # declined or authentication failed: nothing charged
    CANCELED = "canceled"  # given up before any money moved


@dataclass(frozen=True)
class SavedMethod:
    """A payment method the processor keeps for a customer: never the number."""

    processor_id: str
    customer_id: str | None
    kind: str  # a MethodKind value, or the processor's own word for another kind
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    funding: str = ""  # credit, debit, prepaid, unknown; empty for bank debits
    bank: str = ""  # a bank debit's country and bank code (e.g. "DE 37040044")
    mandate_reference: str = ""  # a bank debit's mandate reference, where the processor gives it


@dataclass(frozen=True)
class MandateRecord:
    """A bank debit mandate as the processor recorded its acceptance (any part may be missing)."""

    id: str
    reference: str = ""
    accepted_at: datetime | None = None
    ip_address: str = ""
    user_agent: str = ""
    url: str = ""


@dataclass(frozen=True)
class MethodSetup:
    """A setup the browser confirms with ``client_secret`` (only ever shown to the paying client)."""

    id: str
    client_secret: str = field(repr=False)
    state: str  # the processor's word: "succeeded" once confirmed
    customer_id: str | None = None
    method_id: str | None = None  # once confirmed
    failure_message: str = ""
    mandate_id: str | None = None  # a bank debit's mandate, once confirmed (where the processor has one)


@dataclass(frozen=True)
class Charge:
    """One charge (a PaymentIntent at Stripe) as the processor now sees it."""

    id: str
    state: ChargeState
    amount_minor: int
    currency: str  # upper-case ISO code
    method_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    failure_code: str = ""
    failure_message: str = ""  # safe to show the paying client
    client_secret: str = field(default="", repr=False)  # for the browser's 3-D Secure step only
    refunded_minor: int | None = None  # what the processor says was refunded, when it says


@dataclass(frozen=True)
class RefundOutcome:
    id: str
    state: str  # pending, succeeded, failed, canceled, requires_action
    amount_minor: int
    failure_reason: str = ""


@dataclass(frozen=True)
class ProcessorNotice:
    """One event from the processor (a verified webhook delivery, or one read back later)."""

    id: str
    type: str
    created: datetime | None
    object_type: str | None
    object_id: str | None
    payload: dict = field(repr=False)


#: The type of the signed event Test Connection sends to the portal's own webhook endpoint: the
#: endpoint verifies it and answers without storing it.
WEBHOOK_TEST_NOTICE_TYPE = "portal.webhook_test"


class WebhookRejected(IntegrationError):
    """A webhook delivery that does not verify (forged, altered, another secret, too old)."""


class PaymentCollector(Protocol):
    """Collect payments: customers, saved methods, charges, refunds, events.

    Money-moving calls take the caller's deterministic idempotency key; the collector never
    relies on it alone (a test processor may ignore it): callers store a charge's id before
    confirming it and read the charge back by id."""

    def browser_config(self) -> tuple[str, str]:
        """(publishable key, processor script URL) for the payment pages."""
        ...

    def to_minor_units(self, amount: Decimal, currency: str) -> int:
        """``amount`` in the currency's minor unit; refuses an amount that would round."""
        ...

    def from_minor_units(self, amount_minor: int, currency: str) -> Decimal: ...

    def create_customer(self, *, name: str, email: str, reference: str, idempotency_key: str) -> str:
        """A new customer; ``reference`` (ours) is kept in its metadata. Returns its id."""
        ...

    def begin_method_setup(
        self, *, customer_id: str, kinds: tuple[str, ...], idempotency_key: str | None = None
    ) -> MethodSetup:
        """A setup for the browser to confirm, for later off-session charges."""
        ...

    def method_setup(self, setup_id: str) -> MethodSetup: ...

    def attach_method(self, *, method_id: str, customer_id: str) -> SavedMethod:
        """The method, attached to the customer (harmless when it already is)."""
        ...

    def saved_method(self, method_id: str) -> SavedMethod: ...

    def mandate(self, mandate_id: str) -> MandateRecord | None:
        """A bank debit's mandate and its acceptance, or None where the processor keeps none."""
        ...

    def remove_method(self, method_id: str) -> None:
        """Detach it from its customer; a method already gone is not an error."""
        ...

    def create_charge(
        self,
        *,
        amount_minor: int,
        currency: str,
        customer_id: str,
        method_id: str,
        method_kind: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> Charge:
        """Create a charge without confirming it: nothing moves yet."""
        ...

    def confirm_charge(self, charge_id: str, *, idempotency_key: str, off_session: bool) -> Charge:
        """Confirm (move the money). A decline or an authentication request is a ``Charge`` in
        FAILED or REQUIRES_ACTION, not an exception; an unknown outcome raises a transient
        ``IntegrationError`` (read the charge back before trying again)."""
        ...

    def charge(self, charge_id: str) -> Charge:
        """The charge's current state."""
        ...

    def charges_with(self, *, metadata_key: str, value: str) -> list[Charge]:
        """Charges whose metadata says ``metadata_key == value`` (a lost id's safety net; may
        miss charges created in the last minute on processors whose search lags)."""
        ...

    def cancel_charge(self, charge_id: str, *, idempotency_key: str) -> Charge: ...

    def refund(
        self,
        *,
        charge_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: Mapping[str, str],
    ) -> RefundOutcome: ...

    def refund_state(self, refund_id: str) -> RefundOutcome: ...

    def parse_webhook(self, payload: bytes, signature: str | None) -> ProcessorNotice:
        """The verified event of a webhook delivery (the raw body); raises ``WebhookRejected``."""
        ...

    def recent_notices(self, *, since: datetime, types: tuple[str, ...] = ()) -> Iterator[ProcessorNotice]:
        """Events since ``since`` (the processor keeps them for a limited time)."""


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


# --- invoice balances ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountingBalance:
    """What the accounting package last said is due on an invoice (as stored by its sync or its
    postings, not asked for again)."""

    system: str  # the package's name, for staff ("Xero")
    amount_due: Decimal
    currency: str  # ISO 4217, upper case; "" when the package did not say


class InvoiceBalances(Protocol):
    def accounting_balances(self, invoices: Iterable[Invoice]) -> dict[int, AccountingBalance]:
        """Per invoice pk, the amount due on the package's invoice of the same number; invoices the
        package has no record of are left out. From stored data in one query for the whole list: never
        a call to the package, so a page may ask for every row it shows."""
        ...


# --- giving access up ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessReleased:
    done: bool  # False: the vendor could not be told; the admin should revoke the access there
    message: str  # what happened, in the admin's words ("" when there was nothing to give up)


class AccessRelease(Protocol):
    def release_access(self) -> AccessReleased:
        """Before the integration is deleted: give up what the vendor granted the portal (revoke its
        tokens). Best effort: never raises, and the delete proceeds whatever it returns."""
        ...
