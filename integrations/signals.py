"""Signals other apps listen to (notifications turn them into notifications)."""

from django.dispatch import Signal

# Sent after a sync run succeeded, outside its transaction. Arguments: run (SyncRun).
sync_succeeded = Signal()

# Sent after a sync transaction that created, updated or deleted records committed (caches
# of synced data go stale). Arguments: source_id (DataSource pk).
synced_records_changed = Signal()
