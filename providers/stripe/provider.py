"""Stripe as an integration provider: what it is and what it offers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from integrations.base import Capability, Category, IntegrationProvider
from integrations.registry import register
from providers.stripe.forms import StripeSettingsForm
from providers.stripe.installation import StripeInstallation


@register
class StripeProvider(IntegrationProvider):
    key = "stripe"
    name = "Stripe"
    category = Category.PAYMENTS
    description = gettext_lazy(
        "Card and SEPA Direct Debit payments from the client portal, and autopay, through your Stripe account."
    )
    logo = "img/stripe.svg"
    order = 30
    secret_fields = ("secret_key", "webhook_secret")
    # A key of the other mode (test/live) or another publishable key may reach another account.
    identity_fields = ("mode", "publishable_key")
    capabilities = frozenset({Capability.TEST_CONNECTION, Capability.COLLECT_PAYMENTS})
    installation_class = StripeInstallation

    def settings_form_class(self):
        return StripeSettingsForm
