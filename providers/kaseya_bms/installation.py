"""One configured Kaseya BMS integration: the only Django code that builds a BmsClient.

It implements the capabilities the provider declares (sync, service tickets, ticket lookups,
invoice PDFs) in the portal's neutral types, and turns BMS errors into the admin's words in
one place (``error_message``)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from billing.models import Invoice
from core.redis import get_redis
from core.text import sentence
from integrations import secrets
from integrations.base import (
    Activity,
    ConnectionCheck,
    ConnectionTestResult,
    IntegrationError,
    IntegrationInstallation,
    SyncedEntity,
    TenantIdentity,
)
from integrations.capabilities import ExternalTicket, Option, TicketDraft, TicketLookups
from integrations.models import DataSource
from integrations.sync.engine import SyncEngine
from organizations.models import Ticket
from providers.kaseya_bms import exceptions as bms_errors
from providers.kaseya_bms import mapping, sync_plan
from providers.kaseya_bms.budget import Priority, SlidingHourBudget
from providers.kaseya_bms.client import BmsClient
from providers.kaseya_bms.server_url import InvalidServerUrl, vet_server_url
from providers.kaseya_bms.types import BmsModule, UserInfo
from providers.kaseya_bms.types import TicketDraft as BmsTicketDraft

logger = logging.getLogger(__name__)

# Interactive callers (a page, a notification) try at most twice; Test Connection once.
INTERACTIVE_ATTEMPTS = 2
# Invoice PDFs: short timeouts and one attempt, a viewer is waiting; the whole fetch (sign-in,
# list, download) stops starting new requests after the deadline.
PDF_TIMEOUT = (2, 5)
PDF_DEADLINE_SECONDS = 8.0


class KaseyaBmsInstallation(IntegrationInstallation):
    # --- the client and the tenant ---------------------------------------------------------------

    def client(self, *, priority: Priority = Priority.INTERACTIVE, **options) -> BmsClient:
        """The one way to BMS: every client takes from the tenant's shared request budget at
        ``priority`` and shares one access token between processes.

        Raises InvalidServerUrl (a ValueError) when the host now resolves to a private
        address (DNS changed since the settings were saved)."""
        config = self.integration.config
        options.setdefault("timeout", (settings.BMS_CONNECT_TIMEOUT, settings.BMS_READ_TIMEOUT))
        options.setdefault("pacer", self.budget(priority))
        options.setdefault("token_cache", RedisTokenCache(self._token_cache_key()))
        # Vetted anew each time (DNS may have changed since the settings were saved); the client
        # connects to the address vetted here and never resolves the name itself.
        vetted = vet_server_url(config["server_url"], allowed_insecure_hosts=settings.BMS_ALLOWED_INSECURE_HOSTS)
        return BmsClient(
            vetted.url,
            config["company_name"],
            config["username"],
            self.integration.get_secret("password"),
            pinned_address=vetted.address,
            **options,
        )

    def budget(self, priority: Priority) -> SlidingHourBudget:
        # The data source outlives the integration (a delete and re-add keeps BMS's count).
        source_id = DataSource.objects.filter(integration=self.integration).values_list("pk", flat=True).first()
        tenant = f"source-{source_id}" if source_id else f"integration-{self.integration.pk}"
        return SlidingHourBudget(get_redis(), tenant, settings.BMS_HOURLY_REQUEST_LIMIT, priority=priority)

    def _token_cache_key(self) -> str:
        # Saved settings start a new token (another user or tenant must never reuse it).
        return f"portal:bms-token:{self.integration.pk}:{self.integration.updated_at.timestamp():.6f}"

    def settings_tenant_key(self) -> str:
        config = self.integration.config
        return f"{urlsplit(config['server_url']).netloc.lower()}|{config['company_name'].strip().lower()}"

    def tenant_from(self, user_info: UserInfo) -> TenantIdentity:
        """The tenant as BMS states it: its TenantId, whatever URL reached it, and how it shows
        money and dates."""
        company = self.integration.config["company_name"]
        locale = mapping.tenant_locale(user_info)
        if user_info.tenant_id is None:
            # BMS always sends TenantId; should one not, the settings are the best name left.
            return TenantIdentity(self.settings_tenant_key(), company, locale)
        return TenantIdentity(f"tenant:{user_info.tenant_id}", company, locale)

    # --- errors in the admin's words -------------------------------------------------------------

    def error_message(self, exc: IntegrationError, *, doing: str) -> str:
        if doing == Activity.SIGN_IN:
            detail, remedy = _sign_in_failure(exc)
            return f"{detail} {remedy}"
        if doing == Activity.SYNC:
            return _sync_failure(exc)
        if doing == Activity.SERVICE_TICKET:
            return _ticket_failure(exc)
        return str(exc)

    # --- Test Connection -------------------------------------------------------------------------

    def test_connection(self) -> ConnectionTestResult:
        # One attempt per request: an admin waiting on the page wants the reason, not retries.
        try:
            # A fresh sign-in, not a token shared from earlier: the credentials are what is tested.
            client = self.client(max_attempts=1, token_cache=None)
        except InvalidServerUrl as exc:
            return _sign_in_failed(str(exc), _("Check the Server URL."))
        with client:
            try:
                client.authenticate()
            except bms_errors.BmsError as exc:
                return _sign_in_failed(*_sign_in_failure(exc))
            checks, user_info = _area_checks(client)
            return ConnectionTestResult(checks, tenant=self.tenant_from(user_info) if user_info else None)

    # --- sync ------------------------------------------------------------------------------------

    def synced_entities(self) -> list[SyncedEntity]:
        return [SyncedEntity(_(entity.label), entity.model) for entity in sync_plan.PLAN.entities]

    def sync_engine(self, run, *, worker_token: str) -> SyncEngine:
        """The BMS plan, with a client paced by the source's hourly request budget."""
        client = self.client(priority=Priority.BACKGROUND)
        return SyncEngine(run, client, plan=sync_plan.PLAN, worker_token=worker_token)

    # --- service tickets -------------------------------------------------------------------------

    def create_ticket(self, draft: TicketDraft) -> ExternalTicket:
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            location_id = draft.location_id or _main_location(client, draft.account_id)
            ticket = client.create_ticket(
                BmsTicketDraft(
                    title=draft.title,
                    details=draft.details,
                    account_id=draft.account_id,
                    location_id=location_id,
                    status_id=draft.status_id,
                    priority_id=draft.priority_id,
                    type_id=draft.type_id,
                    source_id=draft.source_id,
                    open_date=draft.open_date,
                    queue_id=draft.queue_id,
                    issue_type_id=draft.issue_type_id,
                    sub_issue_type_id=draft.sub_issue_type_id if draft.issue_type_id else None,
                )
            )
        return ExternalTicket(ticket.id, ticket.ticket_number or "", ticket.account_id or draft.account_id)

    def find_ticket(self, *, marker: str, account_id: int, created_from: datetime) -> ExternalTicket | None:
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            page = client.search_tickets(
                page=1, page_size=10, details=marker, created_from=created_from, account_ids=[account_id]
            )
        found = next((t for t in page.items if marker in (t.details or "")), None)
        if found is None:
            return None
        return ExternalTicket(found.id, found.ticket_number or "", found.account_id or account_id)

    # --- ticket lookups --------------------------------------------------------------------------

    def ticket_lookups(self) -> TicketLookups:
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            statuses = [i for i in client.list_statuses() if i.is_active]
            # The "closed" status type makes no sense for a new ticket; BMS lists statuses in order.
            statuses = [i for i in statuses if (i.raw.get("typeId") or i.raw.get("TypeId")) != 2] or statuses
            ticket_types, types_live = _generic_lookup(client, "TicketType", "type_bms_id")
            sources, sources_live = _generic_lookup(client, "TicketSource", "source_bms_id")
            return TicketLookups(
                queues=_options(client.list_queues()),
                priorities=_options(client.list_priorities()),
                statuses=[Option(i.id, i.name, n == 0) for n, i in enumerate(statuses)],
                issue_types=_options(client.list_issue_types()),
                ticket_types=ticket_types,
                sources=sources,
                ticket_types_from_psa=types_live,
                sources_from_psa=sources_live,
            )

    def sub_issue_types(self, issue_type_id: int) -> list[Option]:
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            try:
                return _options(client.list_sub_issue_types(int(issue_type_id)))
            except bms_errors.BmsNotFound:
                return []

    def account_problem(self, account_id: int) -> str | None:
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            try:
                locations = client.list_account_locations(account_id)
            except bms_errors.BmsNotFound:
                return _("BMS has no account %(account)s.") % {"account": account_id}
        if not locations:
            return _("BMS account %(account)s has no location to create tickets at.") % {"account": account_id}
        return None

    def own_account_id(self) -> int | None:
        """The API user's AccountId from /v2/security/userinfo: the MSP's own account."""
        with self.client(max_attempts=INTERACTIVE_ATTEMPTS) as client:
            return client.user_info().account_id

    # --- invoice PDFs ----------------------------------------------------------------------------

    def invoice_pdf(self, invoice: Invoice, *, max_bytes: int) -> bytes | None:
        module_id = settings.BMS_INVOICE_ATTACHMENT_MODULE_ID
        started = time.monotonic()
        try:
            with self.client(timeout=PDF_TIMEOUT, max_attempts=1) as client:
                pdfs = [
                    a
                    for a in client.list_attachments(module_id, invoice.bms_id)
                    if _belongs_to(a, module_id, invoice.bms_id) and _is_pdf_attachment(a)
                ]
                if not pdfs:
                    return None
                if time.monotonic() - started > PDF_DEADLINE_SECONDS:
                    raise bms_errors.BmsTimeout("BMS is answering too slowly; the download was not started.")
                # The newest PDF is the current version of the invoice.
                newest = max(pdfs, key=lambda a: (a.created_on is not None, a.created_on, a.id))
                return client.download_attachment(module_id, invoice.bms_id, newest.id, max_bytes=max_bytes)
        except bms_errors.BmsNotFound:
            return None


# --- helpers -------------------------------------------------------------------------------------


class RedisTokenCache:
    """The installation's BMS access token in Redis, encrypted like every stored secret, kept
    until its refresh token expires (a day when BMS did not say)."""

    def __init__(self, key: str) -> None:
        self.key = key

    def load(self) -> dict | None:
        stored = get_redis().get(self.key)
        if not stored:
            return None
        try:
            return json.loads(secrets.decrypt(stored.decode()))
        except (secrets.SecretUnreadable, ValueError):
            return None  # keys rotated or garbage: sign in again

    def save(self, token: dict) -> None:
        expires_at = token.get("refresh_expires_at") or token.get("refresh_due_at")
        ttl = int(expires_at - time.time()) if expires_at else 24 * 3600
        if ttl > 0:
            get_redis().set(self.key, secrets.encrypt(json.dumps(token)), ex=ttl)


def _main_location(client: BmsClient, account_id: int) -> int:
    locations = client.list_account_locations(account_id)
    if not locations:
        raise bms_errors.BmsRequestRejected(f"BMS account {account_id} has no location to create the ticket at.")
    return next((loc.id for loc in locations if loc.is_main), locations[0].id)


def _options(items, *, active_only: bool = True) -> list[Option]:
    return [Option(i.id, i.name, i.is_default) for i in items if i.is_active or not active_only]


def _seen_on_tickets(column: str) -> list[Option]:
    ids = Ticket.objects.exclude(**{f"{column}__isnull": True}).values_list(column, flat=True).distinct()
    return [Option(i, _("Seen on synced tickets (id %(id)s)") % {"id": i}) for i in sorted(set(ids))]


def _generic_lookup(client: BmsClient, table: str, seen_column: str) -> tuple[list[Option], bool]:
    try:
        return _options(client.list_lookup(table)), True
    except (bms_errors.BmsNotFound, bms_errors.BmsRequestRejected):
        return _seen_on_tickets(seen_column), False


def _belongs_to(attachment, module_id: int, object_id: int) -> bool:
    """Only a file BMS says is attached to this very invoice may stand for it."""
    if (attachment.module_id, attachment.object_id) == (module_id, object_id):
        return True
    logger.warning(
        "Refused BMS attachment %s: it belongs to module %s object %s, not invoice %s",
        attachment.id,
        attachment.module_id,
        attachment.object_id,
        object_id,
    )
    return False


def _is_pdf_attachment(attachment) -> bool:
    file_type = (attachment.file_type or "").lower()
    file_name = (attachment.file_name or "").lower()
    return "pdf" in file_type or file_name.endswith(".pdf")


def _sign_in_failure(exc: IntegrationError) -> tuple[str, str]:
    """(what went wrong, what to do) for a failed sign-in."""
    if isinstance(exc, bms_errors.BmsAuthenticationError):
        remedies = {
            bms_errors.AuthFailureReason.WRONG_TENANT: _(
                "Check Company Name: it is the tenant name on your BMS My Profile page."
            ),
            bms_errors.AuthFailureReason.WRONG_CREDENTIALS: _("Check Username and Password of the API Employee user."),
            bms_errors.AuthFailureReason.NO_API_ACCESS: _(
                "Grant Admin > Special Features > Has API Access in the user's security role."
            ),
        }
        return sentence(exc), remedies.get(exc.reason, _("Check Company Name, Username and Password."))
    if isinstance(exc, bms_errors.BmsTlsError):
        return sentence(exc), _("The server's TLS certificate is not valid: check the Server URL.")
    if isinstance(exc, bms_errors.BmsNotABmsServer):
        return sentence(exc), _("Check the Server URL: use your BMS API host, e.g. api.bms.kaseya.com.")
    if isinstance(exc, bms_errors.BmsRateLimited):
        return sentence(exc), _("BMS limits API calls per hour; try again later.")
    if isinstance(exc, bms_errors.BmsTimeout | bms_errors.BmsUnavailable):
        return sentence(exc), _("Check the Server URL and that the server is reachable from the portal.")
    return sentence(exc), _("Check the settings and try again.")


def _sync_failure(exc: IntegrationError) -> str:
    if isinstance(exc, bms_errors.BmsAuthenticationError):
        return _("BMS refused the sign-in: %(error)s Check Settings, then run Test Connection.") % {
            "error": sentence(exc)
        }
    if isinstance(exc, bms_errors.BmsPermissionDenied):
        return _("The BMS API user lacks a permission: %(error)s Grant it in the user's security role.") % {
            "error": sentence(exc)
        }
    if isinstance(exc, bms_errors.BmsNotABmsServer | bms_errors.BmsTlsError):
        return _("%(error)s Check the Server URL in Settings.") % {"error": sentence(exc)}
    if exc.transient:
        return _("BMS kept failing after %(retries)s retries: %(error)s The next scheduled sync will resume.") % {
            "retries": settings.SYNC_MAX_RETRIES,
            "error": sentence(exc),
        }
    return _("BMS rejected a request: %(error)s") % {"error": exc}


def _ticket_failure(exc: IntegrationError) -> str:
    if isinstance(exc, bms_errors.BmsRequestRejected):
        if exc.field:
            return _("BMS rejected the ticket (%(field)s): %(error)s Check Service Ticket Configuration.") % {
                "field": exc.field,
                "error": sentence(exc),
            }
        return _("BMS rejected the ticket: %(error)s Check Service Ticket Configuration.") % {"error": sentence(exc)}
    if isinstance(exc, bms_errors.BmsPermissionDenied):
        return _("The BMS API user may not create tickets: %(error)s Grant ServiceDesk: Modify All.") % {
            "error": sentence(exc)
        }
    if isinstance(exc, bms_errors.BmsAuthenticationError):
        return _("BMS refused the sign-in: %(error)s Check the Kaseya BMS settings.") % {"error": sentence(exc)}
    if isinstance(exc, bms_errors.BmsRateLimited):
        return _("BMS rate limit reached: %(error)s") % {"error": exc}
    return str(exc)


def _sign_in_failed(detail: str, remedy: str) -> ConnectionTestResult:
    """Sign-in failed: say why, and leave every other area unchecked."""
    checks = [ConnectionCheck("signin", _("Sign-in and API access"), False, detail, remedy)]
    not_checked = _("Not checked: sign-in failed.")
    checks += [ConnectionCheck(area, _(label), None, not_checked) for area, label, *_rest in _AREAS]
    return ConnectionTestResult(checks)


def _area_checks(client: BmsClient) -> tuple[list[ConnectionCheck], UserInfo | None]:
    checks = [ConnectionCheck("signin", _("Sign-in and API access"), True, _("Signed in to BMS."))]
    user_info = None
    try:
        user_info = client.user_info()
        rights = {right.main_menu_id: right for right in user_info.access_rights}
    except bms_errors.BmsError as exc:
        rights = None
        rights_error = str(exc)
    for area, role_label, module, need_modify, probe in _AREAS:
        label = _(role_label)
        grant = _("Grant %(right)s.") % {"right": label}
        if rights is None:
            detail = _("Could not read the user's rights: %(error)s") % {"error": rights_error}
            checks.append(ConnectionCheck(area, label, False, detail))
            continue
        right = rights.get(module)
        granted = bool(right and right.can_view and (right.can_modify or not need_modify))
        if not granted:
            checks.append(ConnectionCheck(area, label, False, _("The API user's security role lacks this."), grant))
            continue
        if probe is not None:
            try:
                probe(client)
            except bms_errors.BmsPermissionDenied as exc:
                checks.append(ConnectionCheck(area, label, False, str(exc), grant))
                continue
            except bms_errors.BmsError as exc:
                checks.append(ConnectionCheck(area, label, False, str(exc), _("Try again later.")))
                continue
        checks.append(ConnectionCheck(area, label, True, _("Granted.")))
    return checks, user_info


def _probe_crm(client: BmsClient) -> None:
    client.list_accounts(page=1, page_size=1)
    client.list_contacts(page=1, page_size=1)


def _probe_finance(client: BmsClient) -> None:
    client.list_contracts(page=1, page_size=1)
    client.list_invoices(page=1, page_size=1)


def _probe_servicedesk(client: BmsClient) -> None:
    client.search_tickets(page=1, page_size=1)


def _probe_lookups(client: BmsClient) -> None:
    client.list_queues()


# (area, label as in the BMS security-role checklist, module, needs modify, read-only probe);
# the labels are translated where a check is made (gettext_noop: these constants stay plain).
_AREAS: list[tuple[str, str, int, bool, Callable[[BmsClient], None] | None]] = [
    ("crm_view", gettext_noop("CRM: View All"), BmsModule.CRM, False, _probe_crm),
    ("finance_view", gettext_noop("Finance: View All"), BmsModule.FINANCE, False, _probe_finance),
    ("finance_modify", gettext_noop("Finance: Modify All"), BmsModule.FINANCE, True, None),
    ("servicedesk_view", gettext_noop("ServiceDesk: View All"), BmsModule.SERVICE_DESK, False, _probe_servicedesk),
    ("servicedesk_modify", gettext_noop("ServiceDesk: Modify All"), BmsModule.SERVICE_DESK, True, None),
    ("admin_view", gettext_noop("Admin: View All (ticket lookups)"), BmsModule.ADMIN, False, _probe_lookups),
]
