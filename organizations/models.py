from django.db import models

from integrations.synced import SyncedRecord


class Organization(SyncedRecord):
    """A client organization of the MSP (a BMS CRM account)."""

    name = models.CharField(max_length=255, db_index=True)
    code = models.CharField(max_length=100, blank=True)
    account_type = models.CharField(max_length=100, blank=True)
    is_active = models.BooleanField(default=True)
    website = models.CharField(max_length=255, blank=True)
    main_location_bms_id = models.BigIntegerField(null=True, blank=True)
    billing_address1 = models.CharField(max_length=255, blank=True)
    billing_address2 = models.CharField(max_length=255, blank=True)
    billing_city = models.CharField(max_length=100, blank=True)
    billing_state = models.CharField(max_length=100, blank=True)
    billing_zip = models.CharField(max_length=20, blank=True)
    billing_country = models.CharField(max_length=100, blank=True)
    billing_phone = models.CharField(max_length=50, blank=True)
    billing_email = models.CharField(max_length=254, blank=True)
    locations = models.JSONField(default=list, blank=True)
    # ISO 4217: the account's currency in BMS, else the tenant's when synced; empty: the tenant's.
    currency = models.CharField(max_length=3, blank=True)
    bms_created_on = models.DateTimeField(null=True, blank=True)
    bms_modified_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="organization_source_bms_id")]

    def __str__(self) -> str:
        return self.name

    @property
    def billing_address_lines(self) -> list[str]:
        city_line = " ".join(p for p in (self.billing_city, self.billing_state, self.billing_zip) if p)
        lines = [self.billing_address1, self.billing_address2, city_line, self.billing_country]
        return [line for line in lines if line]


class Contact(SyncedRecord):
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    bms_account_id = models.BigIntegerField(null=True, blank=True)
    bms_location_id = models.BigIntegerField(null=True, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=150, blank=True)
    email = models.CharField(max_length=254, blank=True, db_index=True)
    phone = models.CharField(max_length=50, blank=True)
    is_poc = models.BooleanField(default=False)
    receives_invoices = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    bms_created_on = models.DateTimeField(null=True, blank=True)
    bms_modified_on = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="contact_source_bms_id")]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Contract(SyncedRecord):
    # BMS's contract list has no account id, only the account name: linked by name.
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    account_name = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255)
    number = models.CharField(max_length=100, blank=True)
    contract_type = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=100, blank=True)
    billing_cycle = models.CharField(max_length=100, blank=True)
    billing_price = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="contract_source_bms_id")]

    def __str__(self) -> str:
        return self.name


class Ticket(SyncedRecord):
    organization = models.ForeignKey(Organization, null=True, blank=True, on_delete=models.SET_NULL)
    bms_account_id = models.BigIntegerField(null=True, blank=True)
    number = models.CharField(max_length=50, blank=True, db_index=True)
    title = models.CharField(max_length=500)
    status = models.CharField(max_length=100, blank=True)
    priority = models.CharField(max_length=100, blank=True)
    # BMS ids seen on synced tickets: offered where BMS has no lookup (ticket type, source).
    status_bms_id = models.BigIntegerField(null=True, blank=True)
    priority_bms_id = models.BigIntegerField(null=True, blank=True)
    queue_bms_id = models.BigIntegerField(null=True, blank=True)
    type_bms_id = models.BigIntegerField(null=True, blank=True)
    issue_type_bms_id = models.BigIntegerField(null=True, blank=True)
    source_bms_id = models.BigIntegerField(null=True, blank=True)
    open_date = models.DateTimeField(null=True, blank=True)
    completed_date = models.DateTimeField(null=True, blank=True)
    last_activity_update = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-open_date", "-id"]
        constraints = [models.UniqueConstraint(fields=["source", "bms_id"], name="ticket_source_bms_id")]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"
