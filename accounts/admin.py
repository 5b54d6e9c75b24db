"""Read-only admin pages of accounts (accounts.admin_site): users (never their password
hash), the audit log and staff invitations."""

from django.contrib import admin
from django.contrib.auth.models import Group

from accounts.admin_site import register_read_only
from accounts.models import AuditEvent, StaffInvitation, User

register_read_only(
    User, list_display=("email", "full_name", "role", "is_active", "last_login"), search_fields=("email",)
)
register_read_only(
    AuditEvent, list_display=("created_at", "actor_email", "action", "target"), search_fields=("target",)
)
register_read_only(StaffInvitation, list_display=("user", "role", "created_at", "emailed_at", "accepted_at"))

# Access is by role (accounts.models.Role), not by Django's groups: nothing to see there.
admin.site.unregister(Group)
