"""Staff actions: retry a delivery from the log, save the settings page, send a test
notification. Each is audited; a retry is queued only after it commits.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from accounts.audit import field_changes
from accounts.services import audit_record
from notifications import selectors
from notifications.channels import channel_for
from notifications.delivery import enqueue
from notifications.firing import notification_fire
from notifications.models import Delivery, DeliveryStatus, Notification, NotificationPreference, NotificationSettings
from notifications.rendering import sample_facts
from notifications.types import SPECS, spec_for


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
            _("This email cannot be sent as it is (%(reason)s): sending it again would fail the same way.")
            % {"reason": delivery.reason}
        )
    if not delivery.can_retry:
        raise ValueError(_("Only a failed, retrying or not-sent delivery can be retried."))


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
        before = _settings_values(config)
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
        changes = field_changes(before, _settings_values(config), labels=_settings_labels())
        if changes:  # a save that changed nothing is not worth an entry
            audit_record(
                actor=actor,
                action="notifications.settings_saved",
                target="Notifications",
                summary="Saved the notification settings",
                changes=changes,
            )
    return config


# The Service Ticket Configuration's fields as the page names them.
TICKET_FIELD_LABELS = {
    "queue_id": "Destination queue",
    "priority_id": "Priority",
    "issue_type_id": "Issue Type",
    "sub_issue_type_id": "Sub-Issue Type",
    "status_id": "Status",
    "ticket_type_id": "Ticket Type",
    "source_id": "Source",
    "internal_account_id": "MSP's own BMS account",
}


def _settings_labels() -> dict[str, str]:
    labels = {}
    for kind, spec in SPECS.items():
        labels[f"email_{kind}"] = f"Email for {spec.label}"
        labels[f"ticket_{kind}"] = f"Service Ticket for {spec.label}"
    return {**labels, "staff_recipients": "Staff recipients", **TICKET_FIELD_LABELS}


def _settings_values(config: NotificationSettings) -> dict[str, Any]:
    """The page's values as the audit log shows them (a ticket field by its BMS name and id)."""
    values: dict[str, Any] = {}
    for kind, preference in selectors.preferences_map().items():
        values[f"email_{kind}"] = preference.email_enabled
        values[f"ticket_{kind}"] = preference.ticket_enabled
    values["staff_recipients"] = config.staff_recipients
    for name in TICKET_FIELD_LABELS:
        value = getattr(config, name)
        known = (config.names or {}).get(name)
        values[name] = f"{known} ({value})" if known and value is not None else value
    return values


def notification_send_test(kind: str, *, organization=None, actor=None) -> Notification:
    """Fire any type for a chosen organization, marked as a test, with sample facts."""
    context, invoice = sample_facts(kind, organization)
    return notification_fire(
        kind, organization=organization, context=context, invoice=invoice, actor=actor, is_test=True
    )
