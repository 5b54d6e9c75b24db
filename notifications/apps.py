from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # why here: the receivers import models, which load only once the app registry is ready.
        from notifications import events  # noqa: F401
