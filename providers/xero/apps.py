from django.apps import AppConfig


class XeroConfig(AppConfig):
    name = "providers.xero"
    label = "xero"
    verbose_name = "Xero"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the provider with the integrations registry.
        from providers.xero import provider  # noqa: F401
