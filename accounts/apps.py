from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    default = True  # "accounts" in INSTALLED_APPS; PortalAdminConfig is named explicitly
    name = "accounts"
    verbose_name = _("Users and audit")


class PortalAdminConfig(admin_apps.AdminConfig):
    """INSTALLED_APPS entry for Django's admin, with accounts.admin_site.PortalAdminSite
    (Master Admins only, read-only) as ``admin.site``."""

    default = False  # named explicitly in INSTALLED_APPS
    default_site = "accounts.admin_site.PortalAdminSite"
