from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StripeConfig(AppConfig):
    name = "providers.stripe"
    label = "stripe_provider"  # "stripe" would shadow the library's name in app lookups
    verbose_name = _("Stripe")

    def ready(self) -> None:
        # Registers the provider with the integrations registry.
        from providers.stripe import provider  # noqa: F401
