"""Read-only admin pages of integrations (never their encrypted secrets: accounts.admin_site
hides them), data sources, sync runs and sync alerts."""

from accounts.admin_site import register_read_only
from integrations.models import DataSource, Integration, SyncAlert, SyncRun

register_read_only(Integration, DataSource, SyncAlert)
register_read_only(SyncRun, list_display=("id", "integration", "trigger", "status", "started_at", "finished_at"))
