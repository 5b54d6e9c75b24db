"""The Service Ticket Configuration: which PSA queue, priority, types... a notification's ticket
gets. Checked against the PSA when saved (fresh, not cached); when a ticket is created, the
PSA's defaults fill the required fields left unset.

The MSP's own account (where internal notifications' tickets go) left unset is the PSA's own
statement of it (``own_account``, cached briefly); while neither says, those tickets are
skipped (``notifications.firing``), not failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from integrations.base import IntegrationInstallation
from notifications import selectors
from notifications.channels.base import DeliveryFailed, DeliveryRetry
from notifications.models import Notification, NotificationSettings
from notifications.types import Audience, spec_for

# The NotificationSettings fields the configuration is made of (the page's ticket fields).
TICKET_FIELDS = (
    "queue_id",
    "priority_id",
    "issue_type_id",
    "sub_issue_type_id",
    "status_id",
    "ticket_type_id",
    "source_id",
    "internal_account_id",
)


def ticket_config_validate(
    *, installation: IntegrationInstallation, fields: dict[str, int | None]
) -> tuple[dict[str, str], dict[str, str]]:
    """Check the chosen ids against BMS, fresh (not cached). Returns (errors by field, names by field).

    Raises selectors.LookupUnavailable when BMS cannot be asked."""
    lookups = selectors.ticket_lookups(installation, fresh=True)
    errors: dict[str, str] = {}
    names: dict[str, str] = {}
    checked = (
        ("queue_id", "queues", "Destination queue", True),
        ("priority_id", "priorities", "priority", True),
        ("status_id", "statuses", "status for new tickets", True),
        ("issue_type_id", "issue_types", "issue type", True),
        ("ticket_type_id", "ticket_types", "ticket type", lookups.ticket_types_from_psa),
        ("source_id", "sources", "source", lookups.sources_from_psa),
    )
    for field, attr, label, verifiable in checked:
        value = fields.get(field)
        if value is None:
            continue
        options = lookups.names(attr)
        if value in options:
            names[field] = options[value]
        elif verifiable:
            errors[field] = f"BMS has no active {label} with id {value}."
        else:
            names[field] = f"id {value}"  # BMS has no lookup for it: taken as entered
    sub_issue = fields.get("sub_issue_type_id")
    if sub_issue is not None:
        issue = fields.get("issue_type_id")
        if issue is None:
            errors["sub_issue_type_id"] = "Choose an Issue Type first: a sub-issue type belongs to one."
        else:
            subs = {o.id: o.name for o in selectors.sub_issue_types(installation, issue, fresh=True)}
            if sub_issue in subs:
                names["sub_issue_type_id"] = subs[sub_issue]
            else:
                errors["sub_issue_type_id"] = f"BMS has no sub-issue type {sub_issue} under the chosen Issue Type."
    account = fields.get("internal_account_id")
    if account is not None:
        try:
            problem = installation.account_problem(account)
        except Exception as exc:  # a provider's failure of any kind is said in words, never a 500
            raise selectors.lookup_unavailable(f"Could not check the account in {installation.name}", exc) from exc
        if problem:
            errors["internal_account_id"] = problem
    return errors, names


@dataclass(frozen=True)
class OwnAccount:
    """The MSP's own PSA account and where it came from; ``account_id`` None: unknown (``problem``)."""

    account_id: int | None
    source: str = ""  # "saved" (Service Ticket Configuration) or "psa" (the PSA's API user)
    problem: str = ""
    # Neither saved nor named by the PSA (not merely unknown because the PSA did not answer).
    unset: bool = False


OWN_ACCOUNT_UNSET = (
    "The MSP's own BMS account is not set and BMS does not say which it is: internal notifications "
    "create no ticket until it is set in Service Ticket Configuration."
)


def own_account(config: NotificationSettings, installation: IntegrationInstallation | None) -> OwnAccount:
    """The saved MSP's own account, else the PSA's (its API user's account, cached briefly)."""
    if config.internal_account_id is not None:
        return OwnAccount(config.internal_account_id, "saved")
    return psa_own_account(installation)


def psa_own_account(installation: IntegrationInstallation | None) -> OwnAccount:
    """The MSP's own account as the PSA names it (cached briefly; a failure to ask is not cached)."""
    if installation is None:
        return OwnAccount(None, problem="BMS is not connected.")
    integration = installation.integration
    key = f"notifications:own-account:{integration.pk}:{integration.updated_at.timestamp():.0f}"
    cached = cache.get(key)
    if cached is not None:
        if not cached:
            return OwnAccount(None, problem=OWN_ACCOUNT_UNSET, unset=True)
        return OwnAccount(cached, "psa")
    try:
        account_id = installation.own_account_id()
    except Exception as exc:  # a provider's failure of any kind is said in words, never a 500
        problem = str(selectors.lookup_unavailable(f"Could not ask {installation.name} for the MSP's own account", exc))
        return OwnAccount(None, problem=problem)
    cache.set(key, account_id or 0, settings.NOTIFICATIONS_LOOKUP_CACHE_SECONDS)
    if account_id is None:
        return OwnAccount(None, problem=OWN_ACCOUNT_UNSET, unset=True)
    return OwnAccount(account_id, "psa")


def needs_own_account(notification: Notification) -> bool:
    """Its ticket goes on the MSP's own account: internal, or about a client without a BMS account
    (a client notification without one has no ticket at all; its channel says so)."""
    audience = spec_for(notification.kind).audience
    if audience == Audience.INTERNAL:
        return True
    org = notification.organization
    return audience == Audience.STAFF_ABOUT_CLIENT and not (org is not None and org.bms_id)


@dataclass(frozen=True)
class TicketConfig:
    """The configuration a ticket is created with: every required id known."""

    status_id: int
    priority_id: int
    type_id: int
    source_id: int
    queue_id: int | None
    issue_type_id: int | None
    sub_issue_type_id: int | None
    internal_account_id: int | None


def ticket_config_effective(config: NotificationSettings, installation: IntegrationInstallation) -> TicketConfig:
    """The saved Service Ticket Configuration, with BMS's defaults for required fields left unset.

    Raises DeliveryRetry when BMS's lists cannot be loaded for now, DeliveryFailed when they
    cannot be until someone acts (a password to re-enter) or BMS has no default."""
    required = {
        "status_id": config.status_id,
        "priority_id": config.priority_id,
        "type_id": config.ticket_type_id,
        "source_id": config.source_id,
    }
    if any(v is None for v in required.values()):
        try:
            lookups = selectors.ticket_lookups(installation)
        except selectors.LookupUnavailable as exc:
            if not exc.transient:
                raise DeliveryFailed(str(exc)) from exc
            raise DeliveryRetry(str(exc)) from exc
        defaults = {
            "status_id": "statuses",
            "priority_id": "priorities",
            "type_id": "ticket_types",
            "source_id": "sources",
        }
        for name, attr in defaults.items():
            if required[name] is None:
                required[name] = lookups.default_id(attr)
    missing = [n.replace("_id", "").replace("type", "ticket type") for n, v in required.items() if v is None]
    if missing:
        raise DeliveryFailed(
            "Service Ticket Configuration is incomplete: BMS offers no default for "
            + ", ".join(missing)
            + ". Set it on Configurations > Notifications."
        )
    return TicketConfig(
        **required,
        queue_id=config.queue_id,
        issue_type_id=config.issue_type_id,
        sub_issue_type_id=config.sub_issue_type_id,
        internal_account_id=own_account(config, installation).account_id,
    )
