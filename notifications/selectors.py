"""Reads: BMS lookups for the drop-downs (cached), billing-contact resolution, the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet

from integrations.models import Integration
from integrations.providers.kaseya_bms import exceptions as bms_errors
from notifications.models import Delivery, Notification, NotificationPreference, NotificationSettings
from notifications.types import SPECS, Audience, spec_for

logger = logging.getLogger(__name__)

BMS_PROVIDER_KEY = "kaseya-bms"


def bms_integration() -> Integration | None:
    """The BMS integration when it is connected (a passed test or a successful sync), else None."""
    integration = Integration.objects.filter(provider_key=BMS_PROVIDER_KEY).select_related("data_source").first()
    if integration is None:
        return None
    source = getattr(integration, "data_source", None)
    if integration.last_test_passed or (source is not None and source.last_success_at is not None):
        return integration
    return None


def notification_settings_get() -> NotificationSettings:
    obj, _ = NotificationSettings.objects.get_or_create(pk=1)
    return obj


def preferences_map() -> dict[str, NotificationPreference]:
    """Every type's preference (unsaved defaults, both on, for types without a row)."""
    stored = {p.kind: p for p in NotificationPreference.objects.all()}
    return {kind: stored.get(kind) or NotificationPreference(kind=kind) for kind in SPECS}


# --- BMS lookups ---------------------------------------------------------------------------------


class LookupUnavailable(Exception):
    """BMS could not be asked for its lists; the message says why."""


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
    # False: BMS has no lookup for it; the options are the values seen on synced tickets.
    ticket_types_from_bms: bool = True
    sources_from_bms: bool = True

    def names(self, attr: str) -> dict[int, str]:
        return {o.id: o.name for o in getattr(self, attr)}

    def default_id(self, attr: str) -> int | None:
        options = getattr(self, attr)
        for option in options:
            if option.is_default:
                return option.id
        return options[0].id if options else None


def _options(items, *, active_only: bool = True) -> list[Option]:
    return [Option(i.id, i.name, i.is_default) for i in items if i.is_active or not active_only]


def _seen_on_tickets(column: str) -> list[Option]:
    from organizations.models import Ticket

    ids = Ticket.objects.exclude(**{f"{column}__isnull": True}).values_list(column, flat=True).distinct()
    return [Option(i, f"Seen on synced tickets (id {i})") for i in sorted(set(ids))]


def _generic_lookup(client, table: str, seen_column: str) -> tuple[list[Option], bool]:
    try:
        return _options(client.list_lookup(table)), True
    except (bms_errors.BmsNotFound, bms_errors.BmsRequestRejected):
        return _seen_on_tickets(seen_column), False


def _lookup_cache_key(integration: Integration, name: str) -> str:
    return f"notifications:lookups:{integration.pk}:{integration.updated_at.timestamp():.0f}:{name}"


def ticket_lookups(integration: Integration, *, fresh: bool = False) -> TicketLookups:
    """The drop-down lists, from BMS (cached briefly). Raises LookupUnavailable."""
    key = _lookup_cache_key(integration, "all")
    cached = None if fresh else cache.get(key)
    if cached is not None:
        return cached
    client = integration.provider.build_client(integration, max_attempts=2)
    try:
        statuses = [i for i in client.list_statuses() if i.is_active]
        # The "closed" status type makes no sense for a new ticket; BMS lists statuses in order.
        statuses = [i for i in statuses if (i.raw.get("typeId") or i.raw.get("TypeId")) != 2] or statuses
        ticket_types, types_live = _generic_lookup(client, "TicketType", "type_bms_id")
        sources, sources_live = _generic_lookup(client, "TicketSource", "source_bms_id")
        lookups = TicketLookups(
            queues=_options(client.list_queues()),
            priorities=_options(client.list_priorities()),
            statuses=[Option(i.id, i.name, n == 0) for n, i in enumerate(statuses)],
            issue_types=_options(client.list_issue_types()),
            ticket_types=ticket_types,
            sources=sources,
            ticket_types_from_bms=types_live,
            sources_from_bms=sources_live,
        )
    except bms_errors.BmsError as exc:
        raise LookupUnavailable(f"Could not load the lists from BMS: {exc}") from exc
    finally:
        client.close()
    cache.set(key, lookups, settings.NOTIFICATIONS_LOOKUP_CACHE_SECONDS)
    return lookups


def sub_issue_types(integration: Integration, issue_type_id: int, *, fresh: bool = False) -> list[Option]:
    key = _lookup_cache_key(integration, f"sub:{int(issue_type_id)}")
    cached = None if fresh else cache.get(key)
    if cached is not None:
        return cached
    client = integration.provider.build_client(integration, max_attempts=2)
    try:
        options = _options(client.list_sub_issue_types(int(issue_type_id)))
    except bms_errors.BmsNotFound:
        options = []
    except bms_errors.BmsError as exc:
        raise LookupUnavailable(f"Could not load the sub-issue types from BMS: {exc}") from exc
    finally:
        client.close()
    cache.set(key, options, settings.NOTIFICATIONS_LOOKUP_CACHE_SECONDS)
    return options


def internal_account_choices() -> list[tuple[int, str]]:
    """Synced BMS accounts, for the MSP's own account."""
    from organizations.models import Organization

    rows = Organization.objects.filter(deleted_at__isnull=True).order_by("name").values_list("bms_id", "name")
    return [(bms_id, f"{name} (BMS {bms_id})") for bms_id, name in rows]


# --- recipients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipients:
    emails: list[str]
    source: str  # where they came from, e.g. "BMS invoice recipient"
    reason: str = ""  # why there are none


def _unique(emails) -> list[str]:
    seen, out = set(), []
    for email in emails:
        email = (email or "").strip()
        if email and "@" in email and email.lower() not in seen:
            seen.add(email.lower())
            out.append(email)
    return out


def billing_contacts_for(organization) -> Recipients:
    """BMS contacts that receive invoices; else the point of contact; else the accounting
    package's billing contact; else none, with the reason."""
    from integrations.accounting import accounting_package
    from organizations.models import Contact

    contacts = Contact.objects.filter(organization=organization, deleted_at__isnull=True, is_active=True)
    invoice_recipients = _unique(contacts.filter(receives_invoices=True).values_list("email", flat=True))
    if invoice_recipients:
        return Recipients(invoice_recipients, "BMS invoice recipient")
    pocs = _unique(contacts.filter(is_poc=True).values_list("email", flat=True))
    if pocs:
        return Recipients(pocs, "BMS point of contact")
    no_bms = (
        f"{organization} has no contact with an e-mail address marked to receive invoices "
        "or as point of contact in BMS"
    )
    try:
        package = accounting_package()
    except Exception as exc:  # a broken provider must not stop the notification
        logger.warning("Accounting package lookup failed: %s", type(exc).__name__)
        return Recipients([], "", f"{no_bms}, and the accounting package could not be asked ({type(exc).__name__}).")
    if package is None:
        return Recipients([], "", f"{no_bms}, and no accounting package is integrated.")
    try:
        emails = _unique(package.billing_contact_emails(organization))
    except Exception as exc:
        logger.warning("%s billing contact lookup failed: %s", package.name, type(exc).__name__)
        return Recipients([], "", f"{no_bms}, and {package.name} could not be asked: {exc}")
    if emails:
        return Recipients(emails, f"{package.name} billing contact")
    return Recipients([], "", f"{no_bms}, and {package.name} has no billing contact for it either.")


def staff_recipients() -> Recipients:
    from accounts.models import Role, User

    configured = _unique(notification_settings_get().staff_recipient_list)
    if configured:
        return Recipients(configured, "Staff recipients")
    admins = _unique(User.objects.filter(role=Role.MASTER_ADMIN, is_active=True).values_list("email", flat=True))
    if admins:
        return Recipients(admins, "Master Admins (no staff recipients set)")
    return Recipients(
        [], "", "No staff recipients are set on Configurations > Notifications and there is no Master Admin."
    )


def recipients_for(notification: Notification) -> Recipients:
    spec = spec_for(notification.kind)
    if spec.audience == Audience.CLIENT:
        if notification.organization is None:
            return Recipients([], "", "The notification concerns no organization, so there is no billing contact.")
        return billing_contacts_for(notification.organization)
    return staff_recipients()


# --- the log -------------------------------------------------------------------------------------

LOG_STATUS_FILTERS = {
    "failed": "Failed",
    "retrying": "Retrying or queued",
    "sent": "Sent (email or ticket)",
    "not_sent": "Not sent (no recipient, BMS not connected...)",
}


def notification_log(*, kind: str = "", status: str = "", organization_id: str = "") -> QuerySet[Notification]:
    qs = Notification.objects.select_related("organization", "invoice").prefetch_related(
        Prefetch("deliveries", queryset=Delivery.objects.order_by("channel"))
    )
    if kind in SPECS:
        qs = qs.filter(kind=kind)
    if organization_id == "internal":
        qs = qs.filter(organization__isnull=True)
    elif organization_id.isdigit():
        qs = qs.filter(organization_id=int(organization_id))
    deliveries = Delivery.objects.all()
    if status == "failed":
        qs = qs.filter(pk__in=deliveries.filter(status="failed").values("notification_id"))
    elif status == "retrying":
        qs = qs.filter(pk__in=deliveries.filter(status__in=["pending", "sending", "retrying"])
                       .values("notification_id"))
    elif status == "sent":
        qs = qs.filter(pk__in=deliveries.filter(status="sent").values("notification_id"))
    elif status == "not_sent":
        # Something should have gone out and didn't (no billing contact, BMS not connected...);
        # a channel turned off for the type is not that.
        qs = qs.filter(pk__in=deliveries.filter(status="skipped").exclude(reason__contains="is turned off for")
                       .values("notification_id"))
    return qs.distinct().order_by("-created_at", "-id")
