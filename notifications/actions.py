"""Staff actions: retry a delivery from the log, save the settings page, send a test
notification. Each is audited; a retry is queued only after it commits.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.services import audit_record
from notifications.channels import channel_for
from notifications.delivery import enqueue
from notifications.firing import notification_fire
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationPreference, NotificationSettings
from notifications.rendering import sample_facts
from notifications.types import spec_for


def delivery_retry(*, delivery: Delivery, actor) -> Delivery:
    """From the log: queue a failed (or not sent) delivery again. Its channel may look anew
    where it goes (e-mail: the recipients, when there were none); with still nowhere to go,
    it stays "Not sent" with the reason."""
    _refuse_unless_retryable(delivery)
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        _refuse_unless_retryable(delivery)
        why_not = channel_for(delivery.channel).readdress(delivery)
        if why_not:
            Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SKIPPED, reason=why_not)
            delivery.refresh_from_db()
            return delivery
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.PENDING,
            reason="",
            next_attempt_at=None,
            recipients=delivery.recipients,
            recipient_source=delivery.recipient_source,
        )
        audit_record(
            actor=actor,
            action="notification.retry",
            target=str(delivery.notification),
            summary=f"Retried the {delivery.get_channel_display()} of {delivery.notification}",
        )
        transaction.on_commit(lambda: enqueue(delivery.pk, delivery.channel))
    delivery.refresh_from_db()
    return delivery


def _refuse_unless_retryable(delivery: Delivery) -> None:
    if delivery.failed_for_good:
        raise ValueError(
            f"This email cannot be sent as it is ({delivery.reason}): sending it again would fail the same way."
        )
    if not delivery.can_retry:
        raise ValueError("Only a failed, retrying or not-sent delivery can be retried.")


def notification_settings_save(
    *,
    actor,
    preferences: dict[str, tuple[bool, bool]],
    staff_recipients: str,
    ticket_fields: dict[str, Any] | None,
    names: dict[str, str] | None = None,
) -> NotificationSettings:
    """Save the check boxes, staff recipients and (when BMS is connected) the Service Ticket
    Configuration together. Validation (against BMS) happens in the form before this."""
    with transaction.atomic():
        config = NotificationSettings.objects.select_for_update().get_or_create(pk=1)[0]
        for kind, (email, ticket) in preferences.items():
            NotificationPreference.objects.update_or_create(
                kind=spec_for(kind).kind, defaults={"email_enabled": email, "ticket_enabled": ticket}
            )
        config.staff_recipients = staff_recipients
        if ticket_fields is not None:
            for name, value in ticket_fields.items():
                setattr(config, name, value)
            config.names = names or {}
        config.updated_by = actor
        config.save()
        off_email = [spec_for(k).label for k, (e, _t) in preferences.items() if not e]
        off_ticket = [spec_for(k).label for k, (_e, t) in preferences.items() if not t]
        audit_record(
            actor=actor,
            action="notifications.settings_saved",
            target="Notifications",
            summary="Saved the notification settings",
            email_off=off_email,
            ticket_off=off_ticket,
            ticket_config={k: v for k, v in (ticket_fields or {}).items()},
        )
    return config


def notification_send_test(kind: str, *, organization=None, actor=None) -> Notification:
    """Fire any type for a chosen organization, marked as a test, with sample facts."""
    context, invoice = sample_facts(kind, organization)
    return notification_fire(
        kind, organization=organization, context=context, invoice=invoice, actor=actor, is_test=True
    )
