"""Payments: what clients paid (or tried to), on which invoices, with which saved method.

Invariants (see services.py for how they are kept):
- ``Payment.idempotency_key`` is unique: one row per invoice set and attempt. The row is
  committed before any call that moves money, and ``processor_intent_id`` is written once
  (only while empty), before the charge is confirmed: one payment, at most one confirmed charge.
- ``Refund.idempotency_key`` is unique too: one row per refund request, committed before Stripe
  is asked.
- ``ProcessorEvent.event_id`` is unique: each webhook event is stored once, whatever the
  redeliveries.
- Amounts are Decimals in ``currency``; minor units exist only at the processor's boundary.
- Nothing here holds card data: processor references, brand, last four digits and expiry only.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PaymentCustomer(models.Model):
    """The organization as a customer of the payment processor."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    processor = models.CharField(max_length=50)  # the provider key
    customer_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "processor"], name="payment_customer_per_org"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} at {self.processor}: {self.customer_id}"


class MethodKind(models.TextChoices):
    CARD = "card", _("Card")
    SEPA_DEBIT = "sepa_debit", _("SEPA Direct Debit")


class PaymentMethod(models.Model):
    """A method the processor keeps for the organization. ``is_saved`` False: used for one
    payment only (the client did not ask to keep it); it is never offered again."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    processor = models.CharField(max_length=50)
    processor_customer_id = models.CharField(max_length=255)
    processor_method_id = models.CharField(max_length=255)
    kind = models.CharField(max_length=20, choices=MethodKind.choices)
    brand = models.CharField(max_length=30, blank=True)
    last4 = models.CharField(max_length=4, blank=True)
    exp_month = models.PositiveSmallIntegerField(null=True, blank=True)
    exp_year = models.PositiveSmallIntegerField(null=True, blank=True)
    funding = models.CharField(max_length=20, blank=True)  # credit, debit, prepaid, unknown
    bank = models.CharField(max_length=40, blank=True)  # a bank debit's country and bank code
    is_default = models.BooleanField(default=False)
    is_saved = models.BooleanField(default=True)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)  # kept: past payments name it

    class Meta:
        ordering = ["-is_default", "-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["processor", "processor_method_id"], name="payment_method_processor_id"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(is_default=True, removed_at__isnull=True),
                name="one_default_payment_method",
            ),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.kind == MethodKind.SEPA_DEBIT:
            return f"SEPA Direct Debit ···· {self.last4}"
        brand = (self.brand or "card").replace("_", " ").title()
        return f"{brand} ···· {self.last4}"

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}" if self.exp_month and self.exp_year else ""

    @property
    def is_expired(self) -> bool:
        if not (self.exp_month and self.exp_year):
            return False
        today = timezone.localdate()
        return (self.exp_year, self.exp_month) < (today.year, today.month)

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class PaymentMandate(models.Model):
    """The client's authorisation of a bank debit method (SEPA Direct Debit): the mandate text
    they accepted, when and from where, and the processor's mandate where it keeps one. Kept
    with the method, also once removed: the debits made under it rely on it."""

    method = models.OneToOneField(PaymentMethod, on_delete=models.PROTECT, related_name="mandate")
    text = models.TextField()  # exactly as shown when it was accepted
    processor_mandate_id = models.CharField(max_length=255, blank=True)
    reference = models.CharField(max_length=100, blank=True)  # the mandate reference banks show
    # When and from where it was accepted: the processor's record where it gives one (Stripe's
    # mandate), else the portal's (the request that added the method).
    accepted_at = models.DateTimeField()
    ip_address = models.CharField(max_length=64, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    recorded_by_processor = models.BooleanField(default=False)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"Mandate of {self.method} accepted {self.accepted_at:%Y-%m-%d %H:%M}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")


# Money may still move (or has, and BMS may not show it yet).
IN_FLIGHT_STATUSES = (PaymentStatus.PENDING, PaymentStatus.PROCESSING)
SETTLED_STATUSES = (
    PaymentStatus.SUCCEEDED,
    PaymentStatus.FAILED,
    PaymentStatus.REFUNDED,
    PaymentStatus.PARTIALLY_REFUNDED,
)
MONEY_MOVED_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED)


class Initiator(models.TextChoices):
    CLIENT = "client", _("Client")
    AUTOPAY = "autopay", _("Autopay")
    STAFF = "staff", _("Staff")


class Payment(models.Model):
    organization = models.ForeignKey("organizations.Organization", on_delete=models.PROTECT, related_name="+")
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=14, decimal_places=3)  # what the invoices receive
    surcharge = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("0"))
    surcharge_percent = models.DecimalField(max_digits=6, decimal_places=3, default=Decimal("0"))  # the rate then
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    # The cardholder must authenticate (3-D Secure) before the charge can complete.
    action_required = models.BooleanField(default=False)
    processor = models.CharField(max_length=50)
    processor_intent_id = models.CharField(max_length=255, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    initiated_by = models.CharField(max_length=20, choices=Initiator.choices)
    initiated_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    failure_code = models.CharField(max_length=100, blank=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    # A worker charging it holds it until then (see services.payment_charge).
    charge_lease_until = models.DateTimeField(null=True, blank=True)
    charge_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    refunded_amount = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("0"))
    last_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="payment_org_created"),
            models.Index(fields=["status", "created_at"], name="payment_status_created"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(condition=models.Q(surcharge__gte=0), name="payment_surcharge_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} ({self.get_status_display()})"

    @property
    def total(self) -> Decimal:
        """What the client is charged: the amount and any surcharge."""
        return self.amount + self.surcharge

    @property
    def is_in_flight(self) -> bool:
        return self.status in IN_FLIGHT_STATUSES

    @property
    def refundable_amount(self) -> Decimal:
        if self.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED):
            return Decimal("0")
        return max(Decimal("0"), self.total - self.refunded_amount)

    @property
    def reference(self) -> str:
        """Ours, in the processor's metadata: finds a charge whose id was lost."""
        return f"payment-{self.pk}"


class PaymentAllocation(models.Model):
    """The part of a payment that goes to one invoice."""

    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    # The invoice's synced balance when the payment was made: how much of the portal's payments
    # BMS already reflects is measured from here (selectors.unreflected_amounts).
    balance_before = models.DecimalField(max_digits=14, decimal_places=3)
    # When a sync first showed BMS reflecting this amount (payments.reconciliation).
    reconciled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["payment", "invoice"]
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="one_allocation_per_invoice"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="allocation_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} of payment {self.payment_id} to invoice {self.invoice_id}"


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")  # recorded, Stripe not answered yet
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(max_digits=14, decimal_places=3)
    reason = models.CharField(max_length=500)
    status = models.CharField(max_length=20, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    processor_refund_id = models.CharField(max_length=255, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    failure_reason = models.CharField(max_length=500, blank=True)
    # A request sending it to the processor holds it until then (see services.refund_send).
    send_lease_until = models.DateTimeField(null=True, blank=True)
    send_attempts = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive")]

    def __str__(self) -> str:
        return f"Refund {self.pk} of {self.amount} on payment {self.payment_id}"

    @property
    def counts(self) -> bool:
        """Takes from the refundable amount (requested or done, not failed)."""
        return self.status != RefundStatus.FAILED


class ProcessorEvent(models.Model):
    """One webhook event, stored once. Processed by a worker that re-reads the object's current
    state, so duplicates and any order change nothing twice."""

    processor = models.CharField(max_length=50)
    event_id = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["processed_at", "received_at"], name="processor_event_unprocessed")]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class AutopayTiming(models.TextChoices):
    DAYS_BEFORE_DUE = "days_before_due", _("Days before the due date")
    DAYS_AFTER_DUE = "days_after_due", _("Days after the due date")
    DAYS_AFTER_INVOICE = "days_after_invoice", _("Days after the invoice date")
    DAY_OF_MONTH = "day_of_month", _("Day of the month")


class AutopayRule(models.Model):
    """One of an organization's ordered autopay rules: which saved method pays which invoices,
    and when. The first rule (by ``position``) an invoice matches schedules it."""

    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(default=0)
    method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="autopay_rules")
    timing = models.CharField(max_length=30, choices=AutopayTiming.choices)
    days = models.PositiveSmallIntegerField(default=0)  # N, or the day of the month (1-31)
    # Criteria (empty: any). BMS contracts are synced; invoices do not say their contract yet,
    # so a contract here only makes the rule stop (with an error) once the contract has ended.
    contract = models.ForeignKey("organizations.Contract", null=True, blank=True, on_delete=models.SET_NULL)
    max_amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    invoice_status = models.CharField(max_length=100, blank=True)
    locked = models.BooleanField(default=False)  # by the MSP: read-only to the client
    requires_approval = models.BooleanField(default=False)
    enabled = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    pause_reason = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=500, blank=True)  # why it cannot charge now
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization", "position", "id"]

    def __str__(self) -> str:
        return f"Autopay rule {self.position} of {self.organization_id}"

    @property
    def is_active(self) -> bool:
        return self.enabled and self.paused_at is None and not self.error


class ScheduledChargeStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
    APPROVED = "approved", _("Approved")
    CHARGING = "charging", _("Charging")
    CHARGED = "charged", _("Charged")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


class ScheduledCharge(models.Model):
    """An autopay charge of one invoice for one schedule slot (the date the rule gave it).
    Unique per invoice and slot, so evaluations run twice at once schedule it once; each
    attempt's payment key comes from this row and the attempt number."""

    rule = models.ForeignKey(AutopayRule, null=True, on_delete=models.SET_NULL, related_name="charges")
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    invoice = models.ForeignKey("billing.Invoice", on_delete=models.CASCADE, related_name="+")
    slot = models.DateField()
    charge_on = models.DateField(db_index=True)  # the slot, a retry day, or a rescheduled day
    status = models.CharField(
        max_length=20, choices=ScheduledChargeStatus.choices, default=ScheduledChargeStatus.SCHEDULED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["charge_on", "id"]
        constraints = [models.UniqueConstraint(fields=["invoice", "slot"], name="one_autopay_charge_per_slot")]

    def __str__(self) -> str:
        return f"Autopay of invoice {self.invoice_id} on {self.charge_on} ({self.status})"


class PostingStatus(models.TextChoices):
    PENDING = "pending", _("Pending")  # not in the accounting package yet (or not known to be)
    POSTED = "posted", _("Posted")
    REFUSED = "refused", _("Refused")  # the package said no: staff fix the cause, then Retry or Dismiss
    DISMISSED = "dismissed", _("Dismissed")  # staff handled it by hand
    REVERSED = "reversed", _("Reversed")  # refunded: the posted payment was reversed (or never posted)


class PaymentPosting(models.Model):
    """One succeeded payment allocation recorded in the accounting package (see posting.py).

    Unique per allocation: one posting, whatever the duplicate signals and sweeps. ``generation``
    changes only when staff retry a refusal, so every retry of an unclear attempt sends the same
    idempotency key; the reference (the allocation id, and the revision) never changes within a
    revision, so a lost answer is found. A refund makes a new revision: the package's payment is
    reversed and one for the amount kept is posted, with a reference and key of its own."""

    allocation = models.OneToOneField(PaymentAllocation, on_delete=models.CASCADE, related_name="posting")
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="postings")
    status = models.CharField(max_length=20, choices=PostingStatus.choices, default=PostingStatus.PENDING)
    provider_key = models.CharField(max_length=50, blank=True)  # the accounting installation that took it
    external_id = models.CharField(max_length=255, blank=True)  # the package's payment id
    generation = models.PositiveSmallIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    # A worker posting it holds it until then (one worker at a time; see posting.posting_run).
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)  # why it is pending or refused, in staff words
    messages = models.JSONField(default=list, blank=True)  # the package's own words on a refusal
    note = models.CharField(max_length=500, blank=True)  # staff's note on Dismiss
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    posted_at = models.DateTimeField(null=True, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    # What the package's payment is (or is to be): the allocation's amount less its share of the
    # payment's refunds, worked out for the payment's refunded total ``refund_basis``.
    amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    refund_basis = models.DecimalField(max_digits=14, decimal_places=3, default=Decimal("0"))
    revision = models.PositiveSmallIntegerField(default=0)  # bumped when a refund changes the amount
    # The package's payment of the previous revision, reversed before this revision is posted.
    superseded_id = models.CharField(max_length=255, blank=True)
    # When this revision was first sent to the package (None: nothing of it can be there).
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="payment_posting_status")]

    def __str__(self) -> str:
        return f"Posting of allocation {self.allocation_id} ({self.status})"

    @property
    def _revision_suffix(self) -> str:
        return f"-r{self.revision}" if self.revision else ""

    @property
    def reference(self) -> str:
        """Ours, on the accounting package's payment: finds a posting whose answer was lost."""
        return f"portal-allocation-{self.allocation_id}{self._revision_suffix}"

    @property
    def idempotency_key(self) -> str:
        return f"portal-posting-{self.pk}{self._revision_suffix}-g{self.generation}"
