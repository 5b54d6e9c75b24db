"""Where an invoice's image (its PDF) can come from.

Each source is a small class: a key, a name, ``status()`` (can it serve at all right
now?) and ``fetch(invoice)`` (the PDF, None when this source has none for the invoice,
or ``ImageSourceError`` when it failed). The order and the check boxes live in
``InvoiceImageSource`` rows (Configurations > Billing > Invoice Image Data); the
resolver in ``billing.images`` walks them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from integrations import registry
from integrations.base import Capability, Category, IntegrationError

if TYPE_CHECKING:
    from billing.models import Invoice

logger = logging.getLogger(__name__)

# A PDF larger than this is refused (the portal rendering serves instead).
MAX_PDF_BYTES = 20 * 1024 * 1024


class ImageSourceError(Exception):
    """The source failed (unreachable, timed out, refused...). The message is safe to show staff.

    ``cooldown``: skip the source for every invoice for a short while (it is down), rather
    than only this one (something about this invoice).
    """

    def __init__(self, message: str, *, cooldown: bool = True) -> None:
        super().__init__(message)
        self.cooldown = cooldown


@dataclass(frozen=True)
class SourceStatus:
    available: bool
    label: str  # e.g. "Connected", "Not integrated"
    detail: str = ""
    name: str = ""  # what the source is called right now, e.g. "Xero" for the accounting package


class ImageSource:
    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    # Fetched images are kept in storage (keyed by the invoice's sync hash); rendered ones are not.
    cacheable: ClassVar[bool] = True

    def status(self) -> SourceStatus:
        """Whether the source can serve right now, and its name (one registry lookup for both)."""
        raise NotImplementedError

    def fetch(self, invoice: Invoice) -> bytes | None:
        raise NotImplementedError


def _require_pdf(content: bytes, source_name: str) -> bytes:
    if not content.lstrip()[:5] == b"%PDF-":
        raise ImageSourceError(f"{source_name} answered with a file that is not a PDF.")
    return content


class InstallationImageSource(ImageSource):
    """The invoice PDF held by an integrated system of one category (the PSA, the accounting
    package), through its installation's invoice-PDF capability."""

    def __init__(self, key: str, category: Category, name: str, description: str) -> None:
        self.key = key
        self.category = category
        self.name = name
        self.description = description

    def _installation(self, invoice: Invoice | None = None):
        if invoice is not None and self.category == Category.PSA:
            # The PSA that synced the invoice holds its PDF.
            return registry.installation_for_source(invoice.source, Capability.INVOICE_PDFS)
        return registry.installation_offering(Capability.INVOICE_PDFS, category=self.category)

    def status(self) -> SourceStatus:
        """Named after the configured system; else the one provider that could serve; else the category."""
        installation = self._installation()
        if installation is not None:
            return SourceStatus(True, _("Configured"), installation.name, name=installation.name)
        offered_by = [p.name for p in registry.providers_offering(Capability.INVOICE_PDFS, category=self.category)]
        name = offered_by[0] if len(offered_by) == 1 else self.name
        if offered_by:
            providers = _(" or ").join(offered_by)
            set_up = _("Set up %(providers)s under Integrations.") % {"providers": providers}
            return SourceStatus(False, _("Not configured"), set_up, name=name)
        not_integrated = _("No %(name)s is integrated yet: skipped.") % {"name": self.name.lower()}
        return SourceStatus(False, _("Not integrated"), not_integrated, name=name)

    def fetch(self, invoice: Invoice) -> bytes | None:
        installation = self._installation(invoice)
        if installation is None:
            if self.category == Category.PSA and invoice.source.is_removed:
                raise ImageSourceError("The integration this invoice came from was removed.", cooldown=False)
            return None
        try:
            content = installation.invoice_pdf(invoice, max_bytes=MAX_PDF_BYTES)
        except IntegrationError as exc:
            raise ImageSourceError(f"{installation.name}: {exc}") from exc
        return _require_pdf(content, installation.name) if content else None


class PortalRenderingSource(ImageSource):
    key = "portal"
    name = gettext_lazy("Portal rendering")
    description = gettext_lazy(
        "A PDF the portal renders from the synced invoice and its lines, with your company name."
    )
    cacheable = False

    def status(self) -> SourceStatus:
        return SourceStatus(
            True, _("Always available"), _("Also the last resort when no source above has an image."), name=self.name
        )

    def fetch(self, invoice: Invoice) -> bytes | None:
        from billing.rendering import render_invoice_pdf

        return render_invoice_pdf(invoice)


# Default order: the PSA's own PDF, then the accounting package's, then the portal's.
SOURCES: dict[str, ImageSource] = {
    source.key: source
    for source in (
        InstallationImageSource(
            "psa",
            Category.PSA,
            gettext_lazy("PSA"),
            gettext_lazy("The invoice's PDF attached to the invoice in your PSA (Kaseya BMS)."),
        ),
        InstallationImageSource(
            "accounting",
            Category.ACCOUNTING,
            gettext_lazy("Accounting package"),
            gettext_lazy("The invoice's PDF from the integrated accounting package (Xero, QuickBooks, ...)."),
        ),
        PortalRenderingSource(),
    )
}
PORTAL_KEY = PortalRenderingSource.key
