"""Firing: the one API every event goes through to become a notification.

Invariants:
- ``notification_fire`` writes the Notification and one Delivery per channel in one
  transaction; the channels' tasks are enqueued only after it commits (``on_commit``), so a
  task never looks for a row that is not there, and a rolled-back event sends nothing.
- An event is told once: a fired ``event_key`` returns the first notification (the unique
  key settles a race) and sends nothing more.
- Each delivery's ``dedupe_key`` is ``<notification uuid>:<channel>``: it travels with what is
  sent, so a later attempt finds what an earlier one did.
- A channel turned off for the type, or one with nowhere to go (no recipient, no PSA
  connected), gets a delivery that is "Not sent", with the reason in words. So does the
  ticket of a notification that belongs on the MSP's own account while that account is unset
  (neither saved nor named by the PSA): skipped and logged, not failed.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.services import audit_record
from billing.models import Invoice
from notifications import selectors
from notifications.channels import channel_for
from notifications.delivery import enqueue
from notifications.models import Channel, Delivery, DeliveryStatus, Notification
from notifications.ticket_config import needs_own_account, own_account
from notifications.types import Audience, spec_for

logger = logging.getLogger(__name__)


def notification_fire(
    kind: str,
    *,
    organization=None,
    context: dict[str, Any] | None = None,
    actor=None,
    invoice=None,
    event_key: str | None = None,
    is_test: bool = False,
) -> Notification:
    """Fire a notification: record it and queue its e-mail and service ticket.

    ``organization`` None means internal. ``context`` holds JSON-safe facts the templates use
    (amount, reason, ...; ``invoice_id`` loads the invoice). ``event_key`` names the event:
    firing the same event again returns the first notification and sends nothing more.
    """
    spec = spec_for(kind)
    context = _json_safe(dict(context or {}))
    if invoice is None and context.get("invoice_id"):
        invoice = Invoice.objects.filter(pk=context["invoice_id"]).first()
    if invoice is not None:
        context.setdefault("invoice_id", invoice.pk)
        if organization is None and spec.audience != Audience.INTERNAL:
            organization = invoice.organization
    if event_key:
        existing = Notification.objects.filter(event_key=event_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=spec.kind,
                organization=organization,
                invoice=invoice,
                context=context,
                event_key=event_key or None,
                is_test=is_test,
                actor=actor if actor is not None and actor.pk else None,
            )
            deliveries = _create_deliveries(notification)
            if actor is not None and actor.pk:
                audit_record(
                    actor=actor,
                    action="notification.test" if is_test else "notification.fired",
                    target=spec.label,
                    summary=f"Sent a{' test' if is_test else ''} {spec.label} notification"
                    + (f" for {organization}" if organization else ""),
                )
            pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
            transaction.on_commit(lambda: [enqueue(d.pk, d.channel) for d in pending])
    except IntegrityError:
        if event_key:  # the same event fired concurrently: the other one won
            existing = Notification.objects.filter(event_key=event_key).first()
            if existing is not None:
                return existing
        raise
    logger.info(
        "Notification %s (%s) fired: %s",
        notification.pk,
        spec.kind.value,
        ", ".join(f"{d.channel}={d.status}" for d in deliveries),
    )
    return notification


def _create_deliveries(notification: Notification) -> list[Delivery]:
    """One delivery per channel: queued, or "Not sent" with the reason."""
    spec = spec_for(notification.kind)
    preference = selectors.preference_for(notification.kind)
    deliveries = []
    for channel in Channel:
        delivery = Delivery(
            notification=notification, channel=channel, dedupe_key=f"{notification.uuid}:{channel.value}"
        )
        why_not = (
            channel_for(channel).address(delivery)
            if preference.enables(channel)
            else f"{channel.label} is turned off for {spec.label}."
        )
        if not why_not and channel == Channel.TICKET and needs_own_account(notification):
            own = own_account(selectors.notification_settings_get(), selectors.ticket_installation())
            if own.unset:
                why_not = own.problem
                logger.info("Notification %s (%s): ticket skipped: %s", notification.pk, spec.kind.value, why_not)
        if why_not:
            delivery.status, delivery.reason = DeliveryStatus.SKIPPED, why_not
        deliveries.append(delivery)
    Delivery.objects.bulk_create(deliveries)
    return deliveries


def _json_safe(value: Any) -> Any:
    """The context as JSON can store it (Decimals and dates as text)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
