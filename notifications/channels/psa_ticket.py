"""The service-ticket channel: a ticket in the PSA that offers service tickets, asked through
the integration interface (``selectors.ticket_installation()``), never a provider's module.

Invariant: exactly one ticket per delivery, however often the task runs or dies.
- Lease: only the worker holding the delivery's lease creates a ticket, and it renews the
  lease right before creating one, giving up if the lease was already taken over.
- Marker: the ticket's details carry ``delivery.marker``, signed so only the portal can write
  it, and nothing else in them reads as a marker (``notifications.markers``).
- Find before create: an attempt after the first searches the PSA for the marker and adopts
  the ticket it finds (an earlier attempt created it and lost the answer, or died before
  recording it) instead of creating a second one. Only a ticket carrying this delivery's
  exact marker, on the delivery's account, is adopted (an unsigned marker only by a delivery
  created before markers were signed).
Hence its task is acknowledged late and redelivered when a worker dies (see ``tasks.py``).
A stored password the encryption keys can no longer read fails the delivery with the reason.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.utils import timezone

from integrations.base import Activity, IntegrationError, IntegrationInstallation
from integrations.capabilities import ExternalTicket, TicketDraft
from integrations.secrets import SecretUnreadable
from notifications import markers, rendering, selectors
from notifications.channels.base import DeliveryChannel, DeliveryFailed, DeliveryOutcome, DeliveryRetry
from notifications.delivery import finish, renew_lease
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.ticket_config import TicketConfig, ticket_config_effective
from notifications.types import Audience, spec_for

logger = logging.getLogger(__name__)


class PsaTicketChannel(DeliveryChannel):
    def address(self, delivery: Delivery) -> str:
        if selectors.ticket_installation() is None:
            return "BMS is not connected, so ticket creation is off."
        return ""

    def send(self, delivery: Delivery) -> DeliveryOutcome:
        installation = selectors.ticket_installation()
        if installation is None:
            raise DeliveryFailed("BMS is not connected, so no ticket can be created.")
        try:
            return self._send(delivery, installation)
        except IntegrationError as exc:
            message = installation.error_message(exc, doing=Activity.SERVICE_TICKET)
            if exc.transient:
                raise DeliveryRetry(message, retry_after=exc.retry_after) from exc
            raise DeliveryFailed(message) from exc
        except SecretUnreadable as exc:  # until someone re-enters the password, no attempt can succeed
            raise DeliveryFailed(f"{installation.name}: {exc}") from exc

    def _send(self, delivery: Delivery, installation: IntegrationInstallation) -> DeliveryOutcome:
        cfg = ticket_config_effective(selectors.notification_settings_get(), installation)
        account_id, org = ticket_account(delivery.notification, cfg)
        if delivery.attempts > 1:
            # An earlier attempt may have created the ticket and lost the PSA's answer, or died
            # before recording it: find it by its key instead of creating another.
            existing = find_own_ticket(installation, delivery, delivery.bms_account_id or account_id)
            if existing is not None:
                finish(
                    delivery,
                    status=DeliveryStatus.SENT,
                    sent_at=timezone.now(),
                    adopted=True,
                    bms_ticket_id=existing.id,
                    bms_ticket_number=existing.number,
                    bms_account_id=existing.account_id or account_id,
                    reason="",
                )
                logger.info("Delivery %s: adopted ticket %s found by its key", delivery.pk, existing.number)
                return DeliveryOutcome("adopted")
        draft = ticket_draft(delivery, cfg, account_id, org.main_location_bms_id if org is not None else None)
        # Renew the lease just before the POST, so the sweep cannot hand this delivery to
        # another worker while the ticket is being created; give up if it already has.
        if not renew_lease(delivery, bms_account_id=account_id):
            return DeliveryOutcome("lease-lost")
        ticket = self.create_ticket(installation, draft)
        finish(
            delivery,
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
            bms_ticket_id=ticket.id,
            bms_ticket_number=ticket.number,
            reason="",
        )
        logger.info("Delivery %s: created ticket %s", delivery.pk, ticket.number)
        return DeliveryOutcome("sent")

    def create_ticket(self, installation: IntegrationInstallation, draft: TicketDraft) -> ExternalTicket:
        """Open the ticket in the PSA: the step a crash right after must not turn into two tickets."""
        return installation.create_ticket(draft)


def find_own_ticket(
    installation: IntegrationInstallation, delivery: Delivery, account_id: int
) -> ExternalTicket | None:
    """The ticket an earlier attempt of this delivery opened: one whose details carry the
    delivery's exact marker, on its account, opened since the delivery was created."""
    for marker in markers.markers_to_find(delivery.dedupe_key, accept_unsigned=delivery.accepts_unsigned_marker):
        found = installation.find_ticket(
            marker=marker, account_id=account_id, created_from=delivery.created_at - timedelta(hours=1)
        )
        if found is None:
            continue
        if found.account_id is not None and found.account_id != account_id:
            logger.warning(
                "Delivery %s: ticket %s carries its marker but is on account %s, not %s; not adopted",
                delivery.pk,
                found.number,
                found.account_id,
                account_id,
            )
            continue
        return found
    return None


def ticket_account(notification: Notification, cfg: TicketConfig) -> tuple[int, Any]:
    """(PSA account id, organization or None) the ticket is opened on."""
    spec = spec_for(notification.kind)
    org = notification.organization
    if spec.audience != Audience.INTERNAL and org is not None and org.bms_id:
        return org.bms_id, org
    if spec.audience == Audience.CLIENT:
        raise DeliveryFailed("The notification concerns no BMS account, so no ticket can be created for it.")
    if cfg.internal_account_id is None:
        raise DeliveryFailed(
            "Set the MSP's own BMS account in Service Ticket Configuration: internal notifications "
            "create their tickets there."
        )
    return cfg.internal_account_id, None


def ticket_draft(delivery: Delivery, cfg: TicketConfig, account_id: int, location_id: int | None) -> TicketDraft:
    notification = delivery.notification
    ctx = rendering.render_context(notification)
    return TicketDraft(
        title=rendering.ticket_title(notification, ctx),
        details=rendering.ticket_details(notification, delivery.dedupe_key, ctx),
        account_id=account_id,
        location_id=location_id,
        status_id=cfg.status_id,
        priority_id=cfg.priority_id,
        type_id=cfg.type_id,
        source_id=cfg.source_id,
        open_date=timezone.now(),
        queue_id=cfg.queue_id,
        issue_type_id=cfg.issue_type_id,
        sub_issue_type_id=cfg.sub_issue_type_id if cfg.issue_type_id else None,
    )
