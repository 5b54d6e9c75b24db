"""Client-portal events other apps (notifications) listen to."""

from django.dispatch import Signal

# Someone asked for portal access. Arguments: access_request (portal.models.PortalAccessRequest,
# with .email, .full_name, .organization (or None when no synced contact matched) and
# .message). Sent after commit.
portal_access_requested = Signal()
