"""Xero as an integration provider: what it is, what it offers, its pages and card items."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations.base import Capability, CardAction, Category, IntegrationProvider
from integrations.models import Integration
from integrations.registry import register
from providers.xero.forms import XeroSettingsForm
from providers.xero.installation import XeroInstallation
from providers.xero.models import ContactMatch, XeroConnection, XeroContact
from providers.xero.urls import urlpatterns as xero_urlpatterns


@register
class XeroProvider(IntegrationProvider):
    key = "xero"
    name = "Xero"
    category = Category.ACCOUNTING
    description = gettext_lazy(
        "Billing e-mails when BMS has none, invoice PDFs, and every portal payment posted against its invoices."
    )
    logo = "xero/xero.svg"
    order = 50
    secret_fields = ("client_secret",)
    capabilities = frozenset(
        {
            Capability.TEST_CONNECTION,
            Capability.SYNC,
            Capability.BILLING_CONTACTS,
            Capability.INVOICE_PDFS,
            Capability.POST_PAYMENTS,
            Capability.INVOICE_BALANCES,
            Capability.RELEASE_ACCESS,
        }
    )
    installation_class = XeroInstallation

    def settings_form_class(self):
        return XeroSettingsForm

    def urlpatterns(self) -> list:
        return xero_urlpatterns

    def card_actions(self, integration: Integration | None = None) -> list[CardAction]:
        if integration is None:
            integration = Integration.objects.filter(provider_key=self.key).first()
        if integration is None or not integration.has_secret("client_secret"):
            return []
        connection = XeroConnection.objects.filter(integration=integration).first()
        connect = reverse("integrations:xero:connect")
        if connection is None or connection.connected_at is None:
            return [CardAction(_("Connect Xero"), connect, "post", "bi-box-arrow-up-right", prominent=True)]
        if connection.needs_reconnect:
            return [
                CardAction(
                    _("Reconnect Xero"),
                    connect,
                    "post",
                    "bi-arrow-clockwise",
                    prominent=True,
                    hint=connection.reconnect_reason,
                )
            ]
        if not connection.tenant_id:
            return [
                CardAction(
                    _("Choose organisation"), reverse("integrations:xero:choose"), icon="bi-building", prominent=True
                )
            ]
        unmatched = (
            XeroContact.objects.filter(
                source__integration=integration, deleted_at__isnull=True, match=ContactMatch.NONE
            )
            .exclude(status__in=["ARCHIVED", "GDPRREQUEST"])
            .count()
        )
        return [
            CardAction(_("Reconnect Xero"), connect, "post", "bi-arrow-clockwise"),
            CardAction(
                _("Unmatched in Xero (%(count)s)") % {"count": unmatched},
                reverse("integrations:xero:unmatched"),
                icon="bi-link-45deg",
                staff=True,
            ),
        ]
