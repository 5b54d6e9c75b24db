"""Kaseya BMS as an integration provider: what it is and what it offers."""

from __future__ import annotations

from django.utils.translation import gettext_lazy

from integrations.base import Capability, Category, IntegrationProvider
from integrations.registry import register
from providers.kaseya_bms.forms import KaseyaBmsSettingsForm
from providers.kaseya_bms.installation import KaseyaBmsInstallation


@register
class KaseyaBmsProvider(IntegrationProvider):
    key = "kaseya-bms"
    name = "Kaseya BMS"
    category = Category.PSA
    description = gettext_lazy("Organizations, contacts, contracts, tickets and invoices from your Kaseya BMS tenant.")
    logo = "img/kaseya-bms.svg"
    order = 10
    secret_fields = ("password",)
    identity_fields = ("server_url", "company_name", "username")
    capabilities = frozenset(
        {
            Capability.TEST_CONNECTION,
            Capability.SYNC,
            Capability.SERVICE_TICKETS,
            Capability.TICKET_LOOKUPS,
            Capability.INVOICE_PDFS,
        }
    )
    installation_class = KaseyaBmsInstallation

    def settings_form_class(self):
        return KaseyaBmsSettingsForm
