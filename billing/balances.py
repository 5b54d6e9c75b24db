"""What the accounting package shows due on invoices, beside BMS's balance ("balances agree").

The connected accounting installation answers from what it has stored (one query for a whole
page, never a call to the package). Amounts in another currency than the portal's are left out:
they cannot be compared with BMS's balance (and posting a payment to them is refused anyway).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from billing.models import Invoice
from integrations.base import Capability, Category
from integrations.capabilities import AccountingBalance
from integrations.registry import installation_offering


def accounting_balances(invoices: Iterable[Invoice]) -> dict[int, AccountingBalance]:
    """Per invoice pk, the amount due the accounting package shows (absent: no package, or it has no
    such invoice in the portal's currency)."""
    invoices = list(invoices)
    if not invoices:
        return {}
    installation = installation_offering(Capability.INVOICE_BALANCES, category=Category.ACCOUNTING, connected=True)
    if installation is None:
        return {}
    currency = settings.PORTAL_CURRENCY.upper()
    balances = installation.accounting_balances(invoices)  # type: ignore[attr-defined]
    return {pk: b for pk, b in balances.items() if b.currency in ("", currency)}


def balance_disagreement(invoice: Invoice) -> AccountingBalance | None:
    """The package's figure when it differs from BMS's balance (for staff on the invoice page)."""
    balance = accounting_balances([invoice]).get(invoice.pk)
    return balance if balance is not None and balance.amount_due != invoice.balance_due else None
