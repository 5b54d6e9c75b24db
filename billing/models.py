from decimal import Decimal

from django.db import models
from django.utils import timezone

from integrations.synced import SyncedRecord


class Invoice(SyncedRecord):
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="invoices"
    )
    bms_account_id = models.BigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=100, db_index=True)
    status_bms_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=100, blank=True)
    invoice_date = models.DateTimeField(null=True, blank=True)
    due_date = models.DateTimeField(null=True, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    tax = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    paid_amount = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    balance_due = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"), db_index=True)
    # ISO 4217. BMS invoices carry none: their organization's when synced, else the tenant's;
    # empty (stored before currencies were): the tenant's.
    currency = models.CharField(max_length=3, blank=True)
    # Stored by the database, so "open invoices first" lists read an index instead of sorting.
    has_balance = models.GeneratedField(
        expression=models.ExpressionWrapper(models.Q(balance_due__gt=0), output_field=models.BooleanField()),
        output_field=models.BooleanField(),
        db_persist=True,
    )
    po_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    bill_to = models.JSONField(default=dict, blank=True)
    bms_created_on = models.DateTimeField(null=True, blank=True)
    bms_modified_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-invoice_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="invoice_source_bms_id")]
        indexes = [
            models.Index(fields=["organization", "-invoice_date"], name="invoice_org_date"),
            models.Index(
                fields=["organization", "-has_balance", "-invoice_date", "-id"], name="invoice_org_open_first"
            ),
            # The sync's creation-date windows (recent invoices, invoices that left the open listings).
            models.Index(fields=["source", "bms_created_on"], name="invoice_source_created"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.balance_due > 0

    @property
    def is_past_due(self) -> bool:
        return self.is_open and self.due_date is not None and self.due_date < timezone.now()


class InvoiceLine(SyncedRecord):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    name = models.CharField(max_length=255, blank=True)
    description = models.TextField(blank=True)
    line_type = models.CharField(max_length=100, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    unit_price = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    total = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0"))
    is_taxable = models.BooleanField(default=False)

    class Meta:
        ordering = ["invoice", "bms_id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="invoiceline_source_bms_id")]


class InvoiceImageSource(models.Model):
    """One invoice-image source's place in the order and whether it is enabled.

    The sources themselves are code (billing.image_sources); a missing row means the
    source keeps its default place.
    """

    key = models.CharField(max_length=50, unique=True)
    position = models.PositiveSmallIntegerField()
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return f"{self.position}. {self.key}{'' if self.enabled else ' (disabled)'}"


class InvoiceComment(models.Model):
    """One message of an invoice's thread: a client contact's comment or a staff reply."""

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    author_name = models.CharField(max_length=200, blank=True)  # kept if the user is removed
    # Written by the MSP's staff (Master Admin or Billing) in answer to the client.
    is_staff_reply = models.BooleanField(default=False)
    body = models.TextField(max_length=2000)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author_name} on {self.invoice_id}: {self.body[:40]}"
