"""What the portal keeps about its Xero connection. Tokens are not here: they are secrets of the
Integration row (encrypted, see ``tokens.py``).

- ``XeroConnection``: the organisation (tenant) the integration talks to, the scopes granted and
  whether the grant needs a new sign-in ("Reconnect Xero"). Deleted with the integration.
- ``XeroContact`` and ``XeroInvoice`` are synced records (``SyncedRecord``: keyed by data source,
  the Xero organisation, and the record's Xero id, which the sync engine's ``bms_id`` column holds
  as text: Xero's ids are GUIDs). Like BMS records they outlive the integration and are found
  again when the same organisation is connected again.
- A contact carries the BMS organization it matched and how (a stored link, the account number
  or the normalized name): derived after each sync, never part of its sync hash.
- ``XeroContactLink``: a link made by hand; it wins over any automatic match and stays until
  removed by hand. Links are audited.
- ``XeroInvoice``: Xero's invoice id per invoice number (so a PDF or a payment needs no search) and
  Xero's AmountDue as last read (for "balances agree").
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations.synced import SyncedRecord


class XeroConnection(models.Model):
    integration = models.OneToOneField(
        "integrations.Integration", on_delete=models.CASCADE, related_name="xero_connection"
    )
    tenant_id = models.CharField(max_length=64, blank=True)  # "" until an organisation is chosen
    tenant_name = models.CharField(max_length=255, blank=True)
    scopes = models.JSONField(default=list, blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    connected_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    # Set when only a new sign-in helps (the grant was revoked or expired, the organisation was
    # disconnected): the card shows Reconnect Xero.
    reconnect_reason = models.CharField(max_length=500, blank=True)
    reconnect_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.tenant_name or self.tenant_id or "Xero (no organisation chosen)"

    @property
    def needs_reconnect(self) -> bool:
        return bool(self.reconnect_reason)


class ContactMatch(models.TextChoices):
    LINK = "link", _("Linked by hand")
    ACCOUNT_NUMBER = "account_number", _("Account number")
    NAME = "name", _("Name")
    NONE = "", _("Unmatched")


class XeroContact(SyncedRecord):
    bms_id = models.CharField(max_length=64)  # Xero's ContactID (the engine's external-id column)
    name = models.CharField(max_length=255)
    account_number = models.CharField(max_length=100, blank=True)
    email = models.CharField(max_length=254, blank=True)
    # [{"first_name", "last_name", "email", "include_in_emails"}] as Xero lists them.
    contact_persons = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, blank=True)  # ACTIVE, ARCHIVED, GDPRREQUEST
    is_customer = models.BooleanField(default=False)
    xero_updated_at = models.DateTimeField(null=True, blank=True)
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="xero_contacts"
    )
    match = models.CharField(max_length=20, choices=ContactMatch.choices, blank=True, default=ContactMatch.NONE)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="xero_contact_source_bms_id")]
        indexes = [models.Index(fields=["source", "organization"], name="xero_contact_source_org")]

    def __str__(self) -> str:
        return self.name

    @property
    def contact_id(self) -> str:
        return self.bms_id

    @property
    def is_active(self) -> bool:
        return self.status not in ("ARCHIVED", "GDPRREQUEST")


class XeroContactLink(models.Model):
    source = models.ForeignKey("integrations.DataSource", on_delete=models.CASCADE, related_name="+")
    contact_id = models.CharField(max_length=64)
    organization = models.ForeignKey("organizations.Organization", on_delete=models.CASCADE, related_name="+")
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    linked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "contact_id"], name="xero_link_source_contact")]

    def __str__(self) -> str:
        return f"{self.contact_id} -> {self.organization_id}"


class XeroInvoice(SyncedRecord):
    bms_id = models.CharField(max_length=64)  # Xero's InvoiceID (the engine's external-id column)
    invoice_number = models.CharField(max_length=100)
    contact_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, blank=True)  # AUTHORISED, PAID, VOIDED...
    currency = models.CharField(max_length=3, blank=True)
    total = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount_due = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount_paid = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    xero_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="xero_invoice_source_bms_id")]
        indexes = [models.Index(fields=["source", "invoice_number"], name="xero_invoice_source_number")]

    def __str__(self) -> str:
        return self.invoice_number

    @property
    def invoice_id(self) -> str:
        return self.bms_id
