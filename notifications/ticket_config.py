"""The Service Ticket Configuration: which PSA queue, priority, types... a notification's ticket
gets. Checked against the PSA when saved (fresh, not cached); when a ticket is created, the
PSA's defaults fill the required fields left unset.
"""

from __future__ import annotations

from dataclasses import dataclass

from integrations.base import IntegrationInstallation
from notifications import selectors
from notifications.channels.base import DeliveryFailed, DeliveryRetry
from notifications.models import NotificationSettings

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
        internal_account_id=config.internal_account_id,
    )
