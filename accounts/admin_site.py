"""Django's admin at /admin/, for Master Admins only, read-only: troubleshooting the synced
records, sync runs, notification deliveries and payments without a shell.

Invariants:
- Only an active Master Admin gets in. Anyone else signed in gets 403; a visitor who is not
  signed in is sent to the portal's own sign-in page (the admin has no sign-in of its own,
  so the sign-in throttle and audit always apply).
- Nothing can be added, changed or deleted here: every ModelAdmin is a ReadOnlyAdmin.
- No secret is ever shown: fields named in ``HIDDEN_FIELDS`` (password hashes, the encrypted
  integration secrets, fencing tokens) are excluded from every page, list and search.
"""

from __future__ import annotations

from functools import update_wrapper

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

HIDDEN_FIELDS = frozenset({"password", "encrypted_secrets", "worker_token", "lease_token"})


def _is_master_admin(request) -> bool:
    user = request.user
    return user.is_authenticated and user.is_active and getattr(user, "is_master_admin", False)


class PortalAdminSite(admin.AdminSite):
    site_header = _("Billing portal: troubleshooting (read-only)")
    site_title = _("Billing portal admin")
    index_title = _("Records, sync runs, deliveries and payments")

    def has_permission(self, request) -> bool:
        return _is_master_admin(request)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def refuse_signed_in_non_admins(request, *args, **kwargs):
            # Django would send them to the admin's sign-in page; they are signed in: 403.
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied
            return inner(request, *args, **kwargs)

        return update_wrapper(refuse_signed_in_non_admins, inner)

    def login(self, request, extra_context=None):
        if request.user.is_authenticated:
            raise PermissionDenied
        return redirect_to_login(request.GET.get("next") or reverse("admin:index"), settings.LOGIN_URL)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Every concrete field but the hidden ones, shown read-only; no add, change or delete."""

    list_per_page = 50
    list_select_related = True  # each row's __str__ may name its organization, invoice...

    def get_fields(self, request, obj=None):
        meta = self.model._meta
        return [f.name for f in meta.get_fields() if f.concrete and not f.auto_created and f.name not in HIDDEN_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def get_exclude(self, request, obj=None):
        return sorted(HIDDEN_FIELDS)

    def has_module_permission(self, request) -> bool:
        return _is_master_admin(request)

    def has_view_permission(self, request, obj=None) -> bool:
        return _is_master_admin(request)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def register_read_only(*models, **options) -> None:
    """Register each model with a ReadOnlyAdmin (``options`` become its attributes)."""
    for model in models:
        admin.site.register(model, type(f"{model.__name__}Admin", (ReadOnlyAdmin,), dict(options)))
