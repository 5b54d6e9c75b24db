from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = _("Payments")

    def ready(self) -> None:
        # why here: the receivers (post succeeded payments; reconcile after each sync) import models,
        # loaded only now.
        from payments import posting, reconciliation  # noqa: F401
