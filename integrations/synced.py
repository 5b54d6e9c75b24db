"""The shape every synced record shares: keyed by data source + BMS id."""

from django.db import models


class SyncedRecord(models.Model):
    """A record pulled from an integration.

    ``sync_hash`` is a digest of the synced columns, so a sync writes only rows that
    changed; ``deleted_at`` marks a record a full reconcile no longer found (never
    removed); ``last_seen_run`` is the last run that listed it where that is tracked.
    """

    source = models.ForeignKey("integrations.DataSource", on_delete=models.PROTECT)
    bms_id = models.BigIntegerField()
    sync_hash = models.CharField(max_length=32)
    synced_at = models.DateTimeField()
    deleted_at = models.DateTimeField(null=True, blank=True)
    last_seen_run = models.BigIntegerField(null=True, blank=True)
    # The run that first stored the record (kept on updates): "new since" questions.
    first_seen_run = models.BigIntegerField(null=True, blank=True)

    class Meta:
        abstract = True
