"""Reads: the PSA's lookups for the drop-downs (cached), billing-contact resolution, the log.

Invariants:
- Recipients are valid single addresses (``notifications.addresses``): a BMS e-mail field
  holding two addresses gives both; an invalid one is logged and skipped, never fatal.
- Asking the PSA for its lists never raises anything but ``LookupUnavailable`` (whose
  ``transient`` says whether asking again may help): a page or a delivery says why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from billing.selectors import invoice_thread_client_emails
from integrations.base import Capability, Category, IntegrationError, IntegrationInstallation
from integrations.capabilities import Option, TicketLookups
from integrations.registry import installation_offering
from integrations.secrets import SecretUnreadable
from notifications.addresses import valid_addresses
from notifications.models import Delivery, Notification, NotificationPreference, NotificationSettings
from notifications.types import SPECS, Audience, NotificationKind, spec_for
from organizations.models import Contact, Organization

logger = logging.getLogger(__name__)


def ticket_installation() -> IntegrationInstallation | None:
    """The PSA that opens service tickets, once it is connected (a passed test or a successful sync)."""
    return installation_offering(Capability.SERVICE_TICKETS, connected=True)


def notification_settings_get() -> NotificationSettings:
    obj, _created = NotificationSettings.objects.get_or_create(pk=1)
    return obj


def preference_for(kind: str) -> NotificationPreference:
    """The type's preference (an unsaved default, both on, when it has no row)."""
    return NotificationPreference.objects.filter(kind=kind).first() or NotificationPreference(kind=kind)


def preferences_map() -> dict[str, NotificationPreference]:
    """Every type's preference (unsaved defaults, both on, for types without a row)."""
    stored = {p.kind: p for p in NotificationPreference.objects.all()}
    return {kind: stored.get(kind) or NotificationPreference(kind=kind) for kind in SPECS}


# --- BMS lookups ---------------------------------------------------------------------------------


class LookupUnavailable(Exception):
    """The PSA could not be asked for its lists; the message says why. ``transient``: False
    when asking again cannot help until someone changes something (a password to re-enter)."""

    def __init__(self, message: str, *, transient: bool = True):
        super().__init__(message)
        self.transient = transient


def lookup_unavailable(could_not: str, exc: Exception) -> LookupUnavailable:
    """``exc``, raised while asking the PSA, in words (``could_not``: "Could not load the lists
    from Kaseya BMS"). A failure the integration does not name is logged in full."""
    if isinstance(exc, IntegrationError):
        return LookupUnavailable(f"{could_not}: {exc}", transient=exc.transient)
    if isinstance(exc, SecretUnreadable):
        return LookupUnavailable(f"{could_not}: {exc}", transient=False)
    logger.exception(could_not)
    return LookupUnavailable(f"{could_not}: {type(exc).__name__}: {exc}")


def _lookup_cache_key(installation: IntegrationInstallation, name: str) -> str:
    integration = installation.integration
    return f"notifications:lookups:{integration.pk}:{integration.updated_at.timestamp():.0f}:{name}"


def ticket_lookups(installation: IntegrationInstallation, *, fresh: bool = False) -> TicketLookups:
    """The drop-down lists, from the PSA (cached briefly). Raises LookupUnavailable."""
    key = _lookup_cache_key(installation, "all")
    cached = None if fresh else cache.get(key)
    if cached is not None:
        return cached
    try:
        lookups = installation.ticket_lookups()
    except Exception as exc:  # a provider's failure of any kind is said in words, never a 500
        raise lookup_unavailable(f"Could not load the lists from {installation.name}", exc) from exc
    cache.set(key, lookups, settings.NOTIFICATIONS_LOOKUP_CACHE_SECONDS)
    return lookups


def sub_issue_types(installation: IntegrationInstallation, issue_type_id: int, *, fresh: bool = False) -> list[Option]:
    key = _lookup_cache_key(installation, f"sub:{int(issue_type_id)}")
    cached = None if fresh else cache.get(key)
    if cached is not None:
        return cached
    try:
        options = installation.sub_issue_types(int(issue_type_id))
    except Exception as exc:  # a provider's failure of any kind is said in words, never a 500
        raise lookup_unavailable(f"Could not load the sub-issue types from {installation.name}", exc) from exc
    cache.set(key, options, settings.NOTIFICATIONS_LOOKUP_CACHE_SECONDS)
    return options


def internal_account_choices() -> list[tuple[int, str]]:
    """Synced BMS accounts, for the MSP's own account."""
    rows = Organization.objects.filter(deleted_at__isnull=True).order_by("name").values_list("bms_id", "name")
    return [(bms_id, f"{name} (BMS {bms_id})") for bms_id, name in rows]


# --- recipients ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipients:
    emails: list[str]
    source: str  # where they came from, e.g. "BMS invoice recipient"
    reason: str = ""  # why there are none


def billing_contacts_for(organization) -> Recipients:
    """BMS contacts that receive invoices; else the point of contact; else the accounting
    package's billing contact; else none, with the reason."""
    contacts = Contact.objects.filter(organization=organization, deleted_at__isnull=True, is_active=True)
    source = f"the BMS contacts of {organization}"
    invoice_recipients = valid_addresses(
        contacts.filter(receives_invoices=True).values_list("email", flat=True), source=source
    )
    if invoice_recipients:
        return Recipients(invoice_recipients, "BMS invoice recipient")
    pocs = valid_addresses(contacts.filter(is_poc=True).values_list("email", flat=True), source=source)
    if pocs:
        return Recipients(pocs, "BMS point of contact")
    no_bms = (
        f"{organization} has no contact with an e-mail address marked to receive invoices or as point of contact in BMS"
    )
    package = installation_offering(Capability.BILLING_CONTACTS, category=Category.ACCOUNTING)
    if package is None:
        return Recipients([], "", f"{no_bms}, and no accounting package is integrated.")
    try:
        emails = valid_addresses(package.billing_contact_emails(organization), source=package.name)
    except Exception as exc:  # a broken provider must not stop the notification
        logger.warning("%s billing contact lookup failed: %s", package.name, type(exc).__name__)
        return Recipients([], "", f"{no_bms}, and {package.name} could not be asked: {exc}")
    if emails:
        return Recipients(emails, f"{package.name} billing contact")
    return Recipients([], "", f"{no_bms}, and {package.name} has no billing contact for it either.")


def staff_recipients() -> Recipients:
    configured = valid_addresses(notification_settings_get().staff_recipient_list, source="Staff recipients")
    if configured:
        return Recipients(configured, "Staff recipients")
    admins = valid_addresses(
        User.objects.filter(role=Role.MASTER_ADMIN, is_active=True).values_list("email", flat=True),
        source="Master Admins",
    )
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
        if spec.kind == NotificationKind.INVOICE_COMMENT_REPLY and notification.invoice is not None:
            # A reply goes to those who asked; a thread with none left (access revoked) to billing.
            commenters = valid_addresses(
                invoice_thread_client_emails(notification.invoice), source="the invoice's comments"
            )
            if commenters:
                return Recipients(commenters, "Client contacts who commented on the invoice")
        return billing_contacts_for(notification.organization)
    return staff_recipients()


# --- the log -------------------------------------------------------------------------------------

LOG_STATUS_FILTERS = {
    "failed": _("Failed"),
    "retrying": _("Retrying or queued"),
    "sent": _("Sent (email or ticket)"),
    "not_sent": _("Not sent (no recipient, BMS not connected...)"),
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
        qs = qs.filter(
            pk__in=deliveries.filter(status__in=["pending", "sending", "retrying"]).values("notification_id")
        )
    elif status == "sent":
        qs = qs.filter(pk__in=deliveries.filter(status="sent").values("notification_id"))
    elif status == "not_sent":
        # Something should have gone out and didn't (no billing contact, BMS not connected...);
        # a channel turned off for the type is not that.
        qs = qs.filter(
            pk__in=deliveries.filter(status="skipped")
            .exclude(reason__contains="is turned off for")
            .values("notification_id")
        )
    return qs.distinct().order_by("-created_at", "-id")
