from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self):
        # why here: the receiver (reconcile after each sync) imports models, loaded only now.
        from payments import reconciliation  # noqa: F401
