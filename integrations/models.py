from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from integrations import secrets


class IntegrationStatus(models.TextChoices):
    CONFIGURED = "configured", _("Not tested")
    CONNECTED = "connected", _("Connected")
    SYNCING = "syncing", _("Syncing")
    ERROR = "error", _("Error")


class Integration(models.Model):
    """A configured integration: its settings and encrypted credentials.

    Deleting it removes the credentials and configuration; synced records belong to a
    data source that outlives it.
    """

    provider_key = models.CharField(max_length=50, unique=True)
    config = models.JSONField(default=dict)
    # name -> Fernet token; read only through get_secret().
    encrypted_secrets = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=IntegrationStatus.choices, default=IntegrationStatus.CONFIGURED)
    status_detail = models.CharField(max_length=500, blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_passed = models.BooleanField(null=True)
    last_test_checks = models.JSONField(default=list, blank=True)
    # False after a settings change that may point at another tenant: syncs wait until Test
    # Connection has identified the tenant again, so no data moves on a typo.
    tenant_confirmed = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.provider_key

    def __repr__(self) -> str:
        return f"<Integration {self.pk} {self.provider_key} {self.status}>"

    def set_secret(self, name: str, value: str) -> None:
        self.encrypted_secrets = {**self.encrypted_secrets, name: secrets.encrypt(value)}

    def get_secret(self, name: str) -> str:
        token = self.encrypted_secrets.get(name)
        return secrets.decrypt(token) if token else ""

    def has_secret(self, name: str) -> bool:
        return bool(self.encrypted_secrets.get(name))

    @property
    def provider(self):
        from integrations.registry import get_provider

        return get_provider(self.provider_key)


class DataSource(models.Model):
    """One external tenant (e.g. a BMS tenant) that records are synced from.

    ``tenant_key`` is the tenant's identity as the vendor states it (BMS: ``tenant:<TenantId>``
    from /v2/security/userinfo), not the URL that reaches it, so another host name, port or proxy
    for the same tenant keeps one source. Sources created before tenant identity carry the old
    ``host|company`` key until the next Test Connection identifies and rekeys them.

    It outlives the Integration: deleting the integration unlinks it (its records stay,
    marked as from a removed integration) and adding the same tenant again relinks it,
    so records match up by their BMS ids with no duplicates.
    """

    provider_key = models.CharField(max_length=50)
    tenant_key = models.CharField(max_length=300)
    # True once the vendor has said which tenant this is (False: a key derived from settings).
    tenant_identified = models.BooleanField(default=False)
    display_name = models.CharField(max_length=300)
    integration = models.OneToOneField(
        Integration, null=True, blank=True, on_delete=models.SET_NULL, related_name="data_source"
    )
    # The high-water mark of the last successful sync: the next one asks for changes since then.
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_success_hwm = models.DateTimeField(null=True, blank=True)
    last_reconcile_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # How the tenant shows money and dates, as its vendor last said (BMS: CurrencyCode,
    # CultureCode and DateFormat of /v2/security/userinfo); empty: not said yet.
    currency_code = models.CharField(max_length=3, blank=True)
    culture_code = models.CharField(max_length=20, blank=True)
    date_format = models.CharField(max_length=40, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider_key", "tenant_key"], name="datasource_tenant")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_removed(self) -> bool:
        return self.integration_id is None


class SyncTrigger(models.TextChoices):
    INITIAL = "initial", _("Initial")
    SCHEDULE = "schedule", _("Schedule")
    SYNC_NOW = "sync_now", _("Sync Now")
    RECONCILE = "reconcile", _("Reconcile")


class SyncStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    WAITING = "waiting", _("Waiting for the API budget")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_SYNC_STATUSES = (SyncStatus.QUEUED, SyncStatus.RUNNING, SyncStatus.WAITING)


class SyncRun(models.Model):
    """One sync of a data source; its checkpoint lets a redelivered task resume."""

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="sync_runs")
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.SET_NULL)
    trigger = models.CharField(max_length=20, choices=SyncTrigger.choices)
    full_reconcile = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=SyncStatus.choices, default=SyncStatus.QUEUED)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Taken when the run starts; becomes the source's cursor when it succeeds.
    high_water_mark = models.DateTimeField(null=True, blank=True)
    # Changes since this instant are asked for (None: everything).
    since = models.DateTimeField(null=True, blank=True)
    checkpoint = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    requests = models.JSONField(default=dict, blank=True)
    progress = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    # Fencing: only the worker holding this token may write checkpoints.
    worker_token = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source"],
                condition=models.Q(status__in=["queued", "running", "waiting"]),
                name="one_active_sync_per_source",
            )
        ]

    def __str__(self) -> str:
        return f"Sync {self.pk} ({self.get_trigger_display()}, {self.get_status_display()})"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_SYNC_STATUSES

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class SyncSeenPage(models.Model):
    """The BMS ids one page of a run's open-invoice listings returned.

    An incremental run re-lists open invoices to learn which ones left those listings (paid
    or voided since). Noting each page's ids here, with the page's checkpoint, costs one
    small insert per page where marking each unchanged invoice would cost a write per
    invoice. The next run of the source removes them when it starts."""

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="seen_pages")
    bms_ids = models.JSONField()

    def __str__(self) -> str:
        return f"{len(self.bms_ids)} ids seen by sync {self.run_id}"


class SyncAlertKind(models.TextChoices):
    SYNC_FAILED = "sync_failed", _("Sync Failed")
    SYNC_NOT_RUNNING = "sync_not_running", _("Sync Not Running")


class SyncAlert(models.Model):
    """An internal event the notifications turn into a notification."""

    source = models.ForeignKey(DataSource, on_delete=models.CASCADE, related_name="alerts")
    sync_run = models.ForeignKey(SyncRun, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=30, choices=SyncAlertKind.choices)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"
