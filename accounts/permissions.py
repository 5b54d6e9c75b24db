"""Role checks for views. Anonymous users go to the sign-in page; a signed-in user
without the role gets 403."""

from django.contrib.auth.mixins import AccessMixin
from django.core.exceptions import PermissionDenied


class RoleRequiredMixin(AccessMixin):
    def has_role(self, user) -> bool:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not self.has_role(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class StaffRequiredMixin(RoleRequiredMixin):
    """Master Admin and Billing staff."""

    def has_role(self, user) -> bool:
        return user.is_portal_staff


class MasterAdminRequiredMixin(RoleRequiredMixin):
    def has_role(self, user) -> bool:
        return user.is_master_admin


class ClientContactRequiredMixin(RoleRequiredMixin):
    def has_role(self, user) -> bool:
        # A deleted organization closes its portal at once; the sync deactivates the users.
        if not user.is_client_contact:
            return False
        return not user.organization_is_deleted
