"""Where an invoice's image (its PDF) can come from.

Each source is a small class: a key, a name, ``status()`` (can it serve at all right
now?) and ``fetch(invoice)`` (the PDF, None when this source has none for the invoice,
or ``ImageSourceError`` when it failed). The order and the check boxes live in
``InvoiceImageSource`` rows (Configurations > Billing > Invoice Image Data); the
resolver in ``billing.images`` walks them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings

if TYPE_CHECKING:
    from billing.models import Invoice

logger = logging.getLogger(__name__)

# BMS is asked with short timeouts and a single attempt: a viewer is waiting.
BMS_TIMEOUT = (2, 5)
# The whole BMS fetch (sign-in, list, download) stops starting new requests after this.
BMS_DEADLINE_SECONDS = 8.0
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


class ImageSource:
    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    # Fetched images are kept in storage (keyed by the invoice's sync hash); rendered ones are not.
    cacheable: ClassVar[bool] = True

    def display_name(self) -> str:
        return self.name

    def status(self) -> SourceStatus:
        raise NotImplementedError

    def fetch(self, invoice: Invoice) -> bytes | None:
        raise NotImplementedError


def _require_pdf(content: bytes, source_name: str) -> bytes:
    if not content.lstrip()[:5] == b"%PDF-":
        raise ImageSourceError(f"{source_name} answered with a file that is not a PDF.")
    return content


class KaseyaBmsImageSource(ImageSource):
    key = "kaseya-bms"
    name = "Kaseya BMS"
    description = "The invoice's PDF attached to the invoice in Kaseya BMS."

    def status(self) -> SourceStatus:
        from integrations.models import Integration

        integration = Integration.objects.filter(provider_key=self.key).only("id", "status").first()
        if integration is None:
            return SourceStatus(False, "Not configured", "Set up Kaseya BMS under Integrations.")
        return SourceStatus(True, "Configured")

    def fetch(self, invoice: Invoice) -> bytes | None:
        from integrations.providers.kaseya_bms import exceptions as bms_errors
        from integrations.registry import get_provider

        data_source = invoice.source
        if data_source.provider_key != self.key:
            return None
        integration = data_source.integration
        if integration is None:
            raise ImageSourceError("The Kaseya BMS integration this invoice came from was removed.", cooldown=False)
        module_id = getattr(settings, "BMS_INVOICE_ATTACHMENT_MODULE_ID", 9)
        started = time.monotonic()
        try:
            with get_provider(self.key).build_client(integration, timeout=BMS_TIMEOUT, max_attempts=1) as client:
                attachments = client.list_attachments(module_id, invoice.bms_id)
                pdfs = [a for a in attachments if _is_pdf_attachment(a)]
                if not pdfs:
                    return None
                if time.monotonic() - started > BMS_DEADLINE_SECONDS:
                    raise ImageSourceError("Kaseya BMS is answering too slowly; the download was not started.")
                # The newest PDF is the current version of the invoice.
                newest = max(pdfs, key=lambda a: (a.created_on is not None, a.created_on, a.id))
                content = client.download_attachment(module_id, invoice.bms_id, newest.id, max_bytes=MAX_PDF_BYTES)
        except bms_errors.BmsNotFound:
            return None
        except bms_errors.BmsError as exc:
            raise ImageSourceError(f"Kaseya BMS: {exc}") from exc
        return _require_pdf(content, self.name)


def _is_pdf_attachment(attachment) -> bool:
    file_type = (attachment.file_type or "").lower()
    file_name = (attachment.file_name or "").lower()
    return "pdf" in file_type or file_name.endswith(".pdf")


class AccountingImageSource(ImageSource):
    key = "accounting"
    name = "Accounting package"
    description = "The invoice's PDF from the integrated accounting package (QuickBooks, Xero, ...)."

    def _package(self):
        from integrations.accounting import accounting_package

        return accounting_package()

    def display_name(self) -> str:
        package = self._package()
        return f"Accounting package ({package.name})" if package else self.name

    def status(self) -> SourceStatus:
        package = self._package()
        if package is None:
            return SourceStatus(False, "Not integrated", "No accounting package is integrated yet: skipped.")
        return SourceStatus(True, "Integrated", package.name)

    def fetch(self, invoice: Invoice) -> bytes | None:
        package = self._package()
        if package is None:
            return None
        try:
            content = package.invoice_pdf(invoice)
        except Exception as exc:  # a provider's own errors: skip the source, never break the page
            raise ImageSourceError(f"{package.name}: {exc}") from exc
        return _require_pdf(content, package.name) if content else None


class PortalRenderingSource(ImageSource):
    key = "portal"
    name = "Portal rendering"
    description = "A PDF the portal renders from the synced invoice and its lines, with your company name."
    cacheable = False

    def status(self) -> SourceStatus:
        return SourceStatus(True, "Always available", "Also the last resort when no source above has an image.")

    def fetch(self, invoice: Invoice) -> bytes | None:
        from billing.rendering import render_invoice_pdf

        return render_invoice_pdf(invoice)


# Default order: the PSA's own PDF, then the accounting package's, then the portal's.
SOURCES: dict[str, ImageSource] = {
    source.key: source for source in (KaseyaBmsImageSource(), AccountingImageSource(), PortalRenderingSource())
}
PORTAL_KEY = PortalRenderingSource.key
