"""Signals other apps listen to (notifications turn them into notifications)."""

from django.dispatch import Signal

# Sent after a sync run succeeded, outside its transaction. Arguments: run (SyncRun).
sync_succeeded = Signal()
