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
    po_number = models.CharField(max_length=100, blank=True)
    notes = models.TextField(blank=True)
    bill_to = models.JSONField(default=dict, blank=True)
    bms_created_on = models.DateTimeField(null=True, blank=True)
    bms_modified_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-invoice_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="invoice_source_bms_id")]
        indexes = [models.Index(fields=["organization", "-invoice_date"], name="invoice_org_date")]

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
