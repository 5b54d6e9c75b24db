from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KaseyaBmsConfig(AppConfig):
    name = "providers.kaseya_bms"
    label = "kaseya_bms"
    verbose_name = _("Kaseya BMS")

    def ready(self) -> None:
        # Registers the provider with the integrations registry.
        from providers.kaseya_bms import provider  # noqa: F401
