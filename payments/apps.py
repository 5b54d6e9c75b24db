from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        # why here: the receivers (post succeeded payments; reconcile after each sync) import models,
        # loaded only now.
        from payments import posting, reconciliation  # noqa: F401
