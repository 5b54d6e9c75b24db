from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "integrations"

    def ready(self) -> None:
        # Providers register themselves on import; import them explicitly (no scanning).
        from integrations.providers.kaseya_bms import provider  # noqa: F401
