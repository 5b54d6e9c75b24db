"""One configured Xero integration: the only Django code that builds a XeroClient.

It implements the capabilities the provider declares in the portal's neutral types (Test
Connection, billing contacts, invoice PDFs, payment posting, invoice balances, giving the grant up
on delete) and turns Xero's errors into the admin's words in one place (``error_message``).

Invariants:
- One client per use, for the one organisation chosen (``XeroConnection.tenant_id``); every client of
  a tenant shares its Redis budget (``pacing.XeroTenantBudget``) and gets its access token from
  ``tokens.access_token`` (one refresh at a time, stored before use).
- A viewer or an admin waiting on a page gets short timeouts and short waits (``INTERACTIVE``);
  background work (posting, refreshing contacts) waits longer and retries more (``BACKGROUND``).
- Posting a payment looks its reference up on the invoice before creating it, and creates it with an
  Idempotency-Key, so a lost answer never makes a second Xero payment.
- Invoice balances are Xero's AmountDue as stored, never asked for on a page view. The invoice is read
  just before a posting; a payment this call creates (or a reversal it makes) moves the stored figure
  at once, so it matches what Xero then says. When unsure (a reversal found done after a lost answer)
  the stored figure stays lower: a client may then pay less, never more, until the next sync.
- A 403 "organisation not connected" marks the connection Reconnect Xero, as a revoked grant does.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from billing.models import Invoice
from integrations.base import (
    Activity,
    ConnectionCheck,
    ConnectionTestResult,
    IntegrationError,
    IntegrationInstallation,
    SyncedEntity,
    TenantIdentity,
)
from integrations.capabilities import (
    AccessReleased,
    AccountingBalance,
    PaymentPosting,
    PostedPayment,
    PostingRefused,
)
from integrations.models import DataSource
from integrations.secrets import SecretUnreadable
from integrations.sync.engine import SyncEngine
from integrations.vendor_http import backoff_delay
from organizations.models import Organization

from . import services, sync_plan
from .client import XeroClient
from .exceptions import (
    PermissionProblem,
    XeroAuthError,
    XeroError,
    XeroGrantRevoked,
    XeroNotFound,
    XeroPermissionDenied,
    XeroRateLimited,
    XeroValidationError,
)
from .forms import payment_account_ref
from .matching import normalize_account_number, normalize_name
from .models import ContactMatch, XeroConnection, XeroContact, XeroInvoice
from .oauth import SCOPE_NEEDS
from .pacing import XeroTenantBudget
from .tokens import (
    TokenSource,
    XeroNotConnected,
    connection_needs_reconnect,
    identity_for,
    refresh_now,
    tokens_read,
)
from .types import Account, Contact, PaymentDraft, where_literal
from .types import Invoice as XeroInvoiceRecord

logger = logging.getLogger("providers.xero")


@dataclass(frozen=True)
class CallProfile:
    timeout: tuple[float, float]
    max_attempts: int
    max_wait: float  # longest wait for the budget or a Retry-After before giving up (rate limited)


INTERACTIVE = CallProfile(timeout=(3, 10), max_attempts=2, max_wait=5.0)
BACKGROUND = CallProfile(timeout=(5, 30), max_attempts=6, max_wait=60.0)
# Payment posting: attempts of lookup + create on an unclear outcome, and their backoff.
POSTING_ATTEMPTS = 4
POSTING_BACKOFF_CAP = 10.0

_CENT = Decimal("0.01")
_MATCH_ORDER = {ContactMatch.LINK: 0, ContactMatch.ACCOUNT_NUMBER: 1, ContactMatch.NAME: 2}


class XeroInstallation(IntegrationInstallation):
    # Tests replace these to run on a fake clock.
    sleep = staticmethod(time.sleep)
    clock = staticmethod(time.time)

    # --- the connection, the client and the tenant -------------------------------------------------

    @property
    def connection(self) -> XeroConnection | None:
        return XeroConnection.objects.filter(integration_id=self.integration.pk).first()

    @property
    def source(self) -> DataSource | None:
        """The Xero organisation's data source (linked when Test Connection passes)."""
        return DataSource.objects.filter(integration_id=self.integration.pk).first()

    def client(self, *, interactive: bool = False, **options) -> XeroClient:
        """The Accounting API client for the chosen organisation. Raises XeroNotConnected."""
        connection = self.connection
        if connection is None or not connection.tenant_id:
            raise XeroNotConnected(
                _("Xero is not connected to an organisation yet: use Connect Xero on the Integrations page.")
            )
        profile = INTERACTIVE if interactive else BACKGROUND
        sleep, clock = options.pop("sleep", self.sleep), options.pop("clock", self.clock)
        pacer = options.pop("pacer", None) or XeroTenantBudget(
            connection.tenant_id, max_wait=profile.max_wait, sleep=sleep, clock=clock
        )
        options.setdefault("timeout", profile.timeout)
        options.setdefault("max_attempts", profile.max_attempts)
        options.setdefault("max_rate_limit_wait", profile.max_wait)
        client_class = options.pop("client_class", XeroClient)
        return client_class(
            settings.XERO_API_BASE_URL,
            TokenSource(self.integration.pk),
            connection.tenant_id,
            pacer=pacer,
            sleep=sleep,
            clock=clock,
            **options,
        )

    @contextmanager
    def _calling(self, *, interactive: bool = False, **options) -> Iterator[XeroClient]:
        """A client; a 403 "organisation not connected" marks the connection Reconnect Xero."""
        with self.client(interactive=interactive, **options) as client:
            try:
                yield client
            except XeroPermissionDenied as exc:
                if exc.problem == PermissionProblem.TENANT_NOT_CONNECTED:
                    connection_needs_reconnect(
                        integration_id=self.integration.pk,
                        reason="The Xero organisation is no longer connected to the portal.",
                    )
                raise

    # --- errors in the admin's words ---------------------------------------------------------------

    def error_message(self, exc: IntegrationError, *, doing: str) -> str:
        if isinstance(exc, XeroNotConnected):
            return str(exc)
        if isinstance(exc, XeroGrantRevoked):
            return _("Xero no longer accepts the portal's authorization: use Reconnect Xero on the Integrations page.")
        if isinstance(exc, XeroAuthError):
            return _("%(error)s Check Client ID and Client Secret in the Xero settings.") % {"error": exc}
        if isinstance(exc, XeroPermissionDenied):
            return str(exc)
        if isinstance(exc, XeroRateLimited):
            if exc.retry_after:
                return _(
                    "Xero's request limit for this organisation is reached; the portal waits for about %(seconds)s s "
                    "and tries again."
                ) % {"seconds": f"{exc.retry_after:.0f}"}
            return _("Xero's request limit for this organisation is reached; the portal waits and tries again.")
        if isinstance(exc, PostingRefused | XeroValidationError):
            return _("Xero refused it: %(error)s") % {"error": exc}
        if exc.transient:
            if doing == Activity.SYNC:
                return _("Xero could not be reached: %(error)s The next sync will try again.") % {"error": exc}
            return _("Xero could not be reached: %(error)s Try again shortly.") % {"error": exc}
        return str(exc)

    # --- Test Connection ---------------------------------------------------------------------------

    def test_connection(self) -> ConnectionTestResult:
        connection = self.connection
        reason = _not_ready_reason(connection)
        if reason:
            return _failed_first("connection", _("Xero connection"), *reason)
        connected = _("Connected to %(organisation)s.") % {"organisation": connection}
        checks = [ConnectionCheck("connection", _("Xero connection"), True, connected)]
        try:
            tokens = refresh_now(self.integration.pk)
        except XeroError as exc:
            return _failed_after(checks, "token", _("Token refresh"), *_refresh_failure(exc))
        checks.append(ConnectionCheck("token", _("Token refresh"), True, _("Xero issued a new access token.")))
        granted = set(tokens.scopes)
        for need in SCOPE_NEEDS:
            ok = bool(granted & set(need.any_of))
            checks.append(
                ConnectionCheck(
                    need.area,
                    _permission_label(need),
                    ok,
                    _("Granted.")
                    if ok
                    else _("The connection lacks %(scopes)s.") % {"scopes": " or ".join(need.any_of[:2])},
                    "" if ok else str(_SCOPE_REMEDY),
                )
            )
        tenant = None
        try:
            with self._calling(interactive=True) as client:
                organisation = client.get_organisation()
                tenant = TenantIdentity(f"tenant:{connection.tenant_id}", organisation.name or str(connection))
                services.xero_connection_update_from_test(
                    connection=connection, tenant_name=organisation.name, scopes=sorted(granted)
                )
                answered = _("%(organisation)s answered.") % {"organisation": organisation.name}
                checks.append(ConnectionCheck("organisation", _("Organisation"), True, answered))
                checks.append(self._payment_account_check(client))
        except XeroError as exc:
            detail, remedy = _api_failure(exc)
            done = {c.area for c in checks}
            if "organisation" not in done:
                checks.append(ConnectionCheck("organisation", _("Organisation"), False, detail, remedy))
            if "payment_account" not in done:
                checks.append(
                    ConnectionCheck(
                        "payment_account", _("Payment account"), None, _("Not checked: Xero did not answer.")
                    )
                    if "organisation" not in done
                    else ConnectionCheck("payment_account", _("Payment account"), False, detail, remedy)
                )
        return ConnectionTestResult(checks, tenant=tenant)

    def _payment_account_check(self, client: XeroClient) -> ConnectionCheck:
        configured = self.integration.config.get("payment_account", "")
        account = _find_account(client, configured)
        label = _("Payment account")
        if account is None:
            return ConnectionCheck(
                "payment_account",
                label,
                False,
                _("Xero has no account %(account)s.") % {"account": configured},
                _(
                    "Enter in Settings the code of an existing account: a clearing account like Undeposited Funds "
                    "(with “Enable payments to this account” ticked) or a bank account."
                ),
            )
        name = f"{account.code or account.account_id} {account.name}".strip()
        if account.status and account.status != "ACTIVE":
            return ConnectionCheck(
                "payment_account",
                label,
                False,
                _("The account %(account)s is archived in Xero.") % {"account": name},
                _("Restore it in Xero's chart of accounts, or choose an active account in Settings."),
            )
        if not account.accepts_payments:
            return ConnectionCheck(
                "payment_account",
                label,
                False,
                _("The account %(account)s does not accept payments.") % {"account": name},
                _(
                    "In Xero, open Accounting > Chart of accounts > %(account)s and tick "
                    "“Enable payments to this account”, or choose a bank account in Settings."
                )
                % {"account": account.code or account.name},
            )
        return ConnectionCheck("payment_account", label, True, _("%(account)s accepts payments.") % {"account": name})

    # --- sync ---------------------------------------------------------------------------------------

    def synced_entities(self) -> list[SyncedEntity]:
        return [SyncedEntity(_(entity.label), entity.model) for entity in sync_plan.PLAN.entities]

    def sync_engine(self, run, *, worker_token: str) -> SyncEngine:
        """The Xero plan, with clients on the organisation's shared budget (background waits)."""

        def make_client() -> sync_plan.XeroSyncClient:
            client = self.client(client_class=sync_plan.XeroSyncClient)
            client.sibling_factory = make_client
            return client

        return SyncEngine(run, make_client(), plan=sync_plan.PLAN, worker_token=worker_token)

    # --- billing contacts --------------------------------------------------------------------------

    def billing_contact_emails(self, organization: Organization) -> list[str]:
        """The matched Xero contact's e-mail, then its contact persons marked "include in e-mails"."""
        connection, source = self.connection, self.source
        if connection is None or not connection.tenant_id:
            return []
        rows = (
            sorted(
                XeroContact.objects.filter(source=source, organization=organization, deleted_at__isnull=True),
                key=lambda row: (_MATCH_ORDER.get(row.match, 9), not row.is_active, row.name),
            )
            if source is not None
            else []
        )
        with self._calling(interactive=True) as client:
            if rows:
                row = rows[0]
                try:
                    contact = client.get_contact(row.bms_id)
                except XeroNotFound:
                    return _stored_emails(row)
                except XeroError as exc:
                    if not exc.transient:
                        raise
                    # Xero is down for a moment: the addresses as last read beat no e-mail at all.
                    logger.info(
                        "Xero unreachable for a billing contact (%s); using the stored copy", type(exc).__name__
                    )
                    return _stored_emails(row)
                services.xero_contact_remember(source=source, contact=contact)
                return list(contact.invoice_emails)
            if source is not None and XeroContact.objects.filter(source=source).exists():
                return []  # the contacts were synced and matched: none is this organization
            contact = _live_match(client, organization)
        return list(contact.invoice_emails) if contact else []

    # --- invoice PDFs ------------------------------------------------------------------------------

    def invoice_pdf(self, invoice: Invoice, *, max_bytes: int) -> bytes | None:
        """The invoice as Xero renders it, found by its number (Xero's id is remembered)."""
        source = self.source
        with self._calling(interactive=True, max_attempts=1) as client:
            known = (
                XeroInvoice.objects.filter(source=source, invoice_number=invoice.number, deleted_at__isnull=True)
                .values_list("bms_id", flat=True)
                .first()
                if source is not None
                else None
            )
            invoice_id = known
            if invoice_id is None:
                found = _invoice_by_number(client, invoice.number)
                if found is None:
                    return None
                services.xero_invoice_remember(source=source, invoice=found)
                invoice_id = found.invoice_id
            try:
                return client.invoice_pdf(invoice_id, max_bytes=max_bytes)
            except XeroNotFound:
                if known is None:
                    return None
            # The remembered id is gone (deleted and entered again?): look the number up once more.
            services.xero_invoice_gone(source=source, invoice_id=invoice_id)
            found = _invoice_by_number(client, invoice.number)
            if found is None:
                return None
            services.xero_invoice_remember(source=source, invoice=found)
            return client.invoice_pdf(found.invoice_id, max_bytes=max_bytes)

    # --- invoice balances ---------------------------------------------------------------------------

    def accounting_balances(self, invoices: Iterable[Invoice]) -> dict[int, AccountingBalance]:
        """Xero's AmountDue as stored (by the sync, and moved at once by the portal's own postings), per
        invoice of the same number. One query; a voided invoice counts (nothing is due on it), a
        deleted one does not."""
        numbers: dict[str, list[int]] = {}
        for invoice in invoices:
            if invoice.number:
                numbers.setdefault(invoice.number, []).append(invoice.pk)
        source = getattr(self.integration, "data_source", None)  # loaded with the integration
        if source is None or not numbers:
            return {}
        rows = (
            XeroInvoice.objects.filter(
                source=source, invoice_number__in=list(numbers), deleted_at__isnull=True, amount_due__isnull=False
            )
            .exclude(status="DELETED")
            .values_list("invoice_number", "amount_due", "currency", "status", "xero_updated_at")
        )
        chosen: dict[str, tuple] = {}
        for row in rows:
            # The same number twice (voided, then entered again): the live one, else the newest.
            rank = (row[3] != "VOIDED", row[4] is not None, row[4])
            if row[0] not in chosen or rank > chosen[row[0]][0]:
                chosen[row[0]] = (rank, row)
        balances = {}
        for number, (_rank, row) in chosen.items():
            balance = AccountingBalance(system=self.name, amount_due=row[1], currency=(row[2] or "").upper())
            for pk in numbers[number]:
                balances[pk] = balance
        return balances

    # --- giving access up ----------------------------------------------------------------------------

    def release_access(self) -> AccessReleased:
        """Revoke the refresh token at Xero's revocation endpoint: the grant ends with every connection
        made with it, and the portal leaves the organisation's Connected apps. Best effort."""
        try:
            stored = tokens_read(self.integration.pk)
            if stored is None:
                return AccessReleased(True, "")
            with identity_for(self.integration, timeout=INTERACTIVE.timeout, max_attempts=2) as identity:
                identity.revoke(stored.refresh_token)
        except (XeroError, SecretUnreadable, ValueError) as exc:
            logger.warning("Revoking the Xero grant of integration %s failed: %s", self.integration.pk, exc)
            if getattr(exc, "transient", False):
                message = _(
                    "Xero could not be reached (%(error)s), so the portal's access to the Xero organisation was not "
                    "revoked. In Xero, open Settings > Connected apps and disconnect the portal's app."
                )
            else:
                message = _(
                    "Xero did not accept the revocation (%(error)s), so the portal's access to the Xero organisation "
                    "was not revoked. In Xero, open Settings > Connected apps and disconnect the portal's app."
                )
            return AccessReleased(False, message % {"error": exc})
        logger.info("Xero integration %s: grant revoked", self.integration.pk)
        return AccessReleased(True, _("Xero revoked the portal's access to the Xero organisation."))

    # --- payment posting ---------------------------------------------------------------------------

    def post_payment(self, posting: PaymentPosting, *, idempotency_key: str) -> PostedPayment:
        _check_posting(posting)
        account = payment_account_ref(self.integration.config.get("payment_account", ""))
        with self._calling() as client:
            invoice = self._invoice_for_posting(client, posting)
            draft = PaymentDraft(
                invoice_id=invoice.invoice_id,
                amount=posting.amount,
                date=posting.paid_on,
                reference=posting.reference,
                **account,
            )
            attempt = 0
            while True:
                attempt += 1
                posted = _posted_with_reference(client, posting, invoice.invoice_id)
                if posted is not None:
                    if attempt > 1:
                        # Created by this call's lost attempt, after the AmountDue read above.
                        services.xero_invoice_amount_due_move(
                            source=self.source, invoice_id=invoice.invoice_id, by=-posting.amount
                        )
                    return posted
                try:
                    payment = client.create_payment(draft, idempotency_key=idempotency_key)
                except XeroValidationError as exc:
                    raise PostingRefused(
                        f"Xero refused the payment {posting.reference} on {posting.invoice_number}: {exc}",
                        messages=exc.messages,
                    ) from exc
                except XeroNotFound as exc:
                    raise PostingRefused(f"Xero has no invoice {posting.invoice_number} any more.") from exc
                except XeroError as exc:
                    # Unclear outcome (lost answer, timeout, 5xx) or not processed (429): look again, then retry.
                    if not exc.transient or attempt >= POSTING_ATTEMPTS:
                        raise
                    logger.info(
                        "Posting %s to Xero: %s; looking it up before trying again",
                        posting.reference,
                        type(exc).__name__,
                    )
                    self.sleep(self._posting_backoff(exc, attempt))
                    continue
                logger.info("Posted %s to Xero as payment %s", posting.reference, payment.payment_id)
                services.xero_invoice_amount_due_move(
                    source=self.source, invoice_id=invoice.invoice_id, by=-posting.amount
                )
                return PostedPayment(payment.payment_id, created=True)

    def reverse_payment(self, *, external_id: str, idempotency_key: str) -> None:
        with self._calling() as client:
            attempt = 0
            while True:
                attempt += 1
                try:
                    reversed_payment = client.reverse_payment(external_id, idempotency_key=idempotency_key)
                except XeroValidationError as exc:
                    if any("already been deleted" in m for m in exc.messages):
                        return
                    raise PostingRefused(
                        f"Xero refused to reverse the payment {external_id}: {exc}", messages=exc.messages
                    ) from exc
                except XeroNotFound as exc:
                    raise PostingRefused(f"Xero has no payment {external_id}.") from exc
                except XeroError as exc:
                    if not exc.transient or attempt >= POSTING_ATTEMPTS:
                        raise
                    self.sleep(self._posting_backoff(exc, attempt))
                    payments = client.list_payments(where=f"PaymentID=={where_literal_guid(external_id)}")
                    if payments and payments[0].status == "DELETED":
                        return  # the stored AmountDue stays lower until the next sync: the safe side
                    continue
                if reversed_payment.invoice_id and reversed_payment.amount:
                    services.xero_invoice_amount_due_move(
                        source=self.source, invoice_id=reversed_payment.invoice_id, by=reversed_payment.amount
                    )
                return

    def _invoice_for_posting(self, client: XeroClient, posting: PaymentPosting) -> XeroInvoiceRecord:
        found = _invoice_by_number(client, posting.invoice_number)
        if found is None:
            raise PostingRefused(f"Xero has no sales invoice {posting.invoice_number}.")
        services.xero_invoice_remember(source=self.source, invoice=found)
        if found.currency_code and found.currency_code.upper() != posting.currency.upper():
            raise PostingRefused(
                f"The invoice {posting.invoice_number} is in {found.currency_code} in Xero, "
                f"the payment in {posting.currency.upper()}."
            )
        return found

    def _posting_backoff(self, exc: XeroError, attempt: int) -> float:
        if exc.retry_after:
            return exc.retry_after
        return backoff_delay(random, attempt, base=0.5, cap=POSTING_BACKOFF_CAP)


# --- helpers ---------------------------------------------------------------------------------------

_SCOPE_REMEDY = gettext_lazy(
    "Use Reconnect Xero and allow every permission Xero asks for; if Xero refuses the permissions, check "
    "“Xero app scopes” in Settings."
)


def where_literal_guid(value: str) -> str:
    return where_literal(uuid.UUID(value))


def _not_ready_reason(connection: XeroConnection | None) -> tuple[str, str] | None:
    if connection is None or connection.connected_at is None:
        return _("Xero is not connected yet."), _("Use Connect Xero on the card, then allow access on Xero's page.")
    if connection.needs_reconnect:
        return connection.reconnect_reason, _("Use Reconnect Xero on the card and allow access again.")
    if not connection.tenant_id:
        return _("No Xero organisation is chosen."), _("Use Choose organisation on the card.")
    return None


def _failed_first(area: str, label: str, detail: str, remedy: str) -> ConnectionTestResult:
    return _failed_after([], area, label, detail, remedy)


def _permission_label(need) -> str:
    return _("Permission: %(scope)s") % {"scope": _(need.label)}


def _all_areas() -> list[tuple[str, str]]:
    """Every area Test Connection checks, in order, with its label in the active language."""
    return [
        ("connection", _("Xero connection")),
        ("token", _("Token refresh")),
        *[(need.area, _permission_label(need)) for need in SCOPE_NEEDS],
        ("organisation", _("Organisation")),
        ("payment_account", _("Payment account")),
    ]


def _failed_after(
    checks: list[ConnectionCheck], area: str, label: str, detail: str, remedy: str
) -> ConnectionTestResult:
    """``area`` failed: the checks before it stand, the ones after it are not checked."""
    checks = [*checks, ConnectionCheck(area, label, False, detail, remedy)]
    done = {c.area for c in checks}
    checks += [
        ConnectionCheck(a, lbl, None, _("Not checked: %(step)s failed.") % {"step": label.lower()})
        for a, lbl in _all_areas()
        if a not in done
    ]
    return ConnectionTestResult(checks)


def _refresh_failure(exc: XeroError) -> tuple[str, str]:
    if isinstance(exc, XeroNotConnected):
        return str(exc), _("Use Connect Xero on the card.")
    if isinstance(exc, XeroGrantRevoked):
        return (
            _("Xero no longer accepts the portal's authorization (revoked, expired or disconnected)."),
            _("Use Reconnect Xero on the card and allow access again."),
        )
    if isinstance(exc, XeroAuthError):
        return (
            _("Xero refused the app's Client ID or Client Secret."),
            _("Check Client ID and Client Secret in Settings: they are on your app's page at developer.xero.com."),
        )
    return _("Xero's identity service could not be reached: %(error)s") % {"error": exc}, _("Try again shortly.")


def _api_failure(exc: XeroError) -> tuple[str, str]:
    if isinstance(exc, XeroPermissionDenied):
        if exc.problem == PermissionProblem.TENANT_NOT_CONNECTED:
            return (
                _("The Xero organisation is no longer connected to the portal."),
                _("Use Reconnect Xero on the card and tick the organisation on Xero's page."),
            )
        if exc.problem == PermissionProblem.MISSING_SCOPE:
            return _("The connection lacks a permission this needs."), str(_SCOPE_REMEDY)
        return str(exc), _("Use Reconnect Xero on the card.")
    if isinstance(exc, XeroGrantRevoked):
        return str(exc), _("Use Reconnect Xero on the card and allow access again.")
    if isinstance(exc, XeroRateLimited):
        return str(exc), _("Xero limits calls per organisation (60 a minute, 5,000 a day); try again later.")
    return str(exc), _("Try again shortly.")


def _find_account(client: XeroClient, configured: str) -> Account | None:
    ref = payment_account_ref(configured)
    if "account_id" in ref:
        where = f"AccountID=={where_literal_guid(ref['account_id'])}"
    else:
        where = f"Code=={where_literal(ref['account_code'])}"
    accounts = client.list_accounts(where=where)
    return accounts[0] if accounts else None


def _invoice_by_number(client: XeroClient, number: str) -> XeroInvoiceRecord | None:
    """The sales invoice with this number (bills and deleted invoices are not it)."""
    if not number or "," in number:
        return None
    page = client.list_invoices(1, invoice_numbers=[number])
    for found in page.items:
        if found.invoice_number == number and found.type in (None, "ACCREC") and found.status != "DELETED":
            return found
    return None


def _posted_with_reference(client: XeroClient, posting: PaymentPosting, invoice_id: str) -> PostedPayment | None:
    """The live payment already posted with this reference on this invoice, if any."""
    for payment in client.list_payments(where=f"Reference=={where_literal(posting.reference)}"):
        if payment.status == "DELETED" or (payment.invoice_id or "").lower() != invoice_id.lower():
            continue
        if payment.amount is not None and payment.amount != posting.amount:
            raise PostingRefused(
                f"Xero already has a payment with the reference {posting.reference} on {posting.invoice_number}, "
                f"for {payment.amount} instead of {posting.amount}."
            )
        return PostedPayment(payment.payment_id, created=False)
    return None


def _check_posting(posting: PaymentPosting) -> None:
    if not posting.reference or len(posting.reference) > 255:
        raise ValueError("a posting needs a reference of 1 to 255 characters")
    if (
        not isinstance(posting.amount, Decimal)
        or posting.amount <= 0
        or posting.amount != posting.amount.quantize(_CENT)
    ):
        raise ValueError("a posting's amount must be a positive Decimal with at most two decimals")


def _stored_emails(row: XeroContact) -> list[str]:
    seen: set[str] = set()
    emails: list[str] = []
    for email in [row.email, *(p.get("email") for p in row.contact_persons if p.get("include_in_emails"))]:
        if email and email.strip().lower() not in seen:
            seen.add(email.strip().lower())
            emails.append(email.strip())
    return emails


def _live_match(client: XeroClient, organization: Organization) -> Contact | None:
    """Before any contact refresh: the organization's contact found by account number, then by name."""
    if normalize_account_number(organization.code):
        page = client.list_contacts(1, where=f"AccountNumber=={where_literal(organization.code.strip())}")
        if len(page.items) == 1:
            return page.items[0]
    key = normalize_name(organization.name)
    if not key:
        return None
    page = client.list_contacts(1, search_term=key.split()[0])
    named = [c for c in page.items if normalize_name(c.name) == key]
    return named[0] if len(named) == 1 else None
