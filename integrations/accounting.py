"""What the portal asks of an integrated accounting package (QuickBooks, Xero, ...).

None is integrated yet: ``accounting_package()`` answers None and every caller falls
back (the billing contact comes from BMS only; the accounting invoice-image source is
shown as not integrated). A provider with ``category = "Accounting"`` that is
configured offers this interface through ``provider.accounting_package(integration)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from billing.models import Invoice
    from organizations.models import Organization


class AccountingPackage(Protocol):
    name: str

    def billing_contact_emails(self, organization: Organization) -> list[str]:
        """The organization's billing e-mail addresses in the accounting package (may be empty)."""
        ...

    def invoice_pdf(self, invoice: Invoice) -> bytes | None:
        """The invoice's PDF in the accounting package, or None when it has none."""
        ...


def accounting_package() -> AccountingPackage | None:
    """The integrated accounting package, or None while none is integrated."""
    from integrations.models import Integration
    from integrations.registry import all_providers

    for provider in all_providers():
        if provider.category != "Accounting":
            continue
        integration = Integration.objects.filter(provider_key=provider.key).first()
        if integration is not None:
            return provider.accounting_package(integration)
    return None
