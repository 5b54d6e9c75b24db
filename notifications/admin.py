"""Read-only admin pages of notifications and their deliveries (accounts.admin_site)."""

from accounts.admin_site import register_read_only
from notifications.models import Delivery, Notification

register_read_only(Notification)
register_read_only(Delivery, list_display=("id", "notification", "channel", "status", "attempts"))
