from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("Client portal")

    def ready(self) -> None:
        from portal import receivers  # noqa: F401 - connects the signal receivers
