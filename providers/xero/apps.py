from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class XeroConfig(AppConfig):
    name = "providers.xero"
    label = "xero"
    verbose_name = _("Xero")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the provider with the integrations registry.
        from providers.xero import provider  # noqa: F401
