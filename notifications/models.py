import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from notifications import markers
from notifications.types import NotificationKind


class NotificationSettings(models.Model):
    """The page's configuration (one row): staff recipients and the Service Ticket Configuration.

    Ids are BMS lookup ids; the names beside them are what BMS called them when saved, so the
    page can name them while BMS is unreachable."""

    staff_recipients = models.TextField(blank=True)
    queue_id = models.BigIntegerField(null=True, blank=True)
    priority_id = models.BigIntegerField(null=True, blank=True)
    issue_type_id = models.BigIntegerField(null=True, blank=True)
    sub_issue_type_id = models.BigIntegerField(null=True, blank=True)
    status_id = models.BigIntegerField(null=True, blank=True)
    ticket_type_id = models.BigIntegerField(null=True, blank=True)
    source_id = models.BigIntegerField(null=True, blank=True)  # BMS allows 0 (Client Portal)
    internal_account_id = models.BigIntegerField(null=True, blank=True)
    names = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    def __str__(self) -> str:
        return "Notification settings"

    @property
    def staff_recipient_list(self) -> list[str]:
        raw = self.staff_recipients.replace(";", ",").replace("\n", ",")
        return [e.strip() for e in raw.split(",") if e.strip()]


class NotificationPreference(models.Model):
    """Per type: send an e-mail, create a service ticket. A missing row means both on."""

    kind = models.CharField(max_length=40, choices=NotificationKind.choices, unique=True)
    email_enabled = models.BooleanField(default=True)
    ticket_enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: email={self.email_enabled} ticket={self.ticket_enabled}"

    def enables(self, channel: str) -> bool:
        """Whether this type is sent on ``channel`` (a ``Channel`` value)."""
        return {Channel.EMAIL: self.email_enabled, Channel.TICKET: self.ticket_enabled}[channel]


class Notification(models.Model):
    """One event worth telling someone about. Its deliveries do the telling."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=40, choices=NotificationKind.choices, db_index=True)
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    invoice = models.ForeignKey("billing.Invoice", null=True, blank=True, on_delete=models.SET_NULL)
    # JSON-safe facts (amount, reason, ids...) the templates read.
    context = models.JSONField(default=dict, blank=True)
    # The event's identity (e.g. "past_due:12:30"): the same event never notifies twice.
    event_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    is_test = models.BooleanField(default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    TICKET = "ticket", _("Service Ticket")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Queued")
    SENDING = "sending", _("Sending")
    RETRYING = "retrying", _("Retrying")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Not sent")


CLAIMABLE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING)
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING)


class Delivery(models.Model):
    """One notification on one channel: an outbox row, committed before anything is sent.

    ``dedupe_key`` travels with what is sent (in the ticket's details, the e-mail's
    Message-ID), so a retried or redelivered task finds what an earlier attempt did."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    dedupe_key = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    # Why nothing was sent (skipped) or why it gave up (failed), in words.
    reason = models.TextField(blank=True)
    recipients = models.JSONField(default=list, blank=True)
    recipient_source = models.CharField(max_length=200, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"at", "attempt", "error", "transient"}]
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    bms_account_id = models.BigIntegerField(null=True, blank=True)
    bms_ticket_id = models.BigIntegerField(null=True, blank=True)
    bms_ticket_number = models.CharField(max_length=50, blank=True)
    adopted = models.BooleanField(default=False)  # found in BMS by its key after a lost answer
    # Created before ticket markers were signed: may adopt a ticket with its unsigned marker
    # (see notifications.markers). True only for rows that existed at the upgrade.
    accepts_unsigned_marker = models.BooleanField(default=False)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["notification", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["notification", "channel"], name="one_delivery_per_channel"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.dedupe_key} {self.status}"

    @property
    def marker(self) -> str:
        """What the ticket's details carry, to find it again (signed: see notifications.markers)."""
        return markers.ticket_marker(self.dedupe_key)

    @property
    def last_error(self) -> str:
        return self.errors[-1]["error"] if self.errors else ""

    @property
    def can_retry(self) -> bool:
        if self.status not in (DeliveryStatus.FAILED, DeliveryStatus.RETRYING, DeliveryStatus.SKIPPED):
            return False
        return not self.failed_for_good

    @property
    def failed_for_good(self) -> bool:
        """An e-mail that failed permanently (no valid address, refused by the mail server):
        a retry would send the same message to the same addresses (the e-mail channel looks
        for recipients again only when there were none), so it is not offered."""
        return (
            self.channel == Channel.EMAIL
            and self.status == DeliveryStatus.FAILED
            and bool(self.errors)
            and self.errors[-1].get("transient") is False
        )
