"""Resolve an invoice's image: walk the enabled sources in the configured order and serve
the first PDF found. The portal rendering is the last resort, so there is always one.

Fetched PDFs are kept in storage under the invoice's ``sync_hash``: when a sync changes
the invoice, the hash changes and the next view fetches again (the old file is removed).
A source with no image for an invoice is remembered for a while, and a failing source is
skipped for a short cool-down, so a slow or failing BMS delays at most one viewer.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.translation import gettext as _

from billing.image_sources import PORTAL_KEY, SOURCES, ImageSource, ImageSourceError
from billing.models import Invoice
from billing.selectors import ConfiguredSource, image_source_config

logger = logging.getLogger(__name__)

CACHE_DIR = "invoice-images"
# "This source has no image for this version of the invoice" is remembered this long.
NO_IMAGE_TTL = 60 * 60
# After a failure the source is skipped for this long (one slow viewer, not all of them).
FAILURE_COOLDOWN = 30


@dataclass(frozen=True)
class SkippedSource:
    key: str
    name: str
    reason: str


@dataclass(frozen=True)
class ResolvedImage:
    pdf: bytes | None  # None: not even the portal rendering could be made (the reason is logged)
    source_key: str
    source_name: str
    filename: str
    from_cache: bool = False
    last_resort: bool = False  # the portal rendering served because no enabled source had an image
    skipped: tuple[SkippedSource, ...] = field(default_factory=tuple)


def _storage():
    return storages[getattr(settings, "INVOICE_IMAGE_STORAGE_ALIAS", "default")]


def _safe(value: object) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(value))[:100] or "_"


def _invoice_dir(source_key: str, invoice: Invoice) -> str:
    return f"{CACHE_DIR}/{_safe(source_key)}/{invoice.pk}"


def _cache_path(source_key: str, invoice: Invoice) -> str:
    return f"{_invoice_dir(source_key, invoice)}/{_safe(invoice.sync_hash)}.pdf"


def _no_image_key(source_key: str, invoice: Invoice) -> str:
    return f"invoice-image:none:{source_key}:{invoice.pk}:{invoice.sync_hash}"


def _cooldown_key(source_key: str) -> str:
    return f"invoice-image:cooldown:{source_key}"


def invoice_image_filename(invoice: Invoice) -> str:
    return f"Invoice-{_safe(invoice.number)}.pdf"


def _read_cached(source_key: str, invoice: Invoice) -> bytes | None:
    storage, path = _storage(), _cache_path(source_key, invoice)
    try:
        if not storage.exists(path):
            return None
        with storage.open(path, "rb") as handle:
            return handle.read()
    except OSError:
        logger.warning("Could not read the cached invoice image %s", path, exc_info=True)
        return None


def _write_cached(source_key: str, invoice: Invoice, pdf: bytes) -> None:
    storage, path = _storage(), _cache_path(source_key, invoice)
    try:
        saved = storage.save(path, ContentFile(pdf))
        if saved != path:  # another viewer stored the same version a moment ago
            storage.delete(saved)
        _delete_cached(source_key, invoice, keep=path)
    except OSError:
        logger.warning("Could not cache the invoice image %s", path, exc_info=True)


def _delete_cached(source_key: str, invoice: Invoice, *, keep: str | None = None) -> None:
    storage, directory = _storage(), _invoice_dir(source_key, invoice)
    try:
        _dirs, files = storage.listdir(directory)
    except (FileNotFoundError, NotImplementedError):
        return
    for name in files:
        path = f"{directory}/{name}"
        if path != keep:
            storage.delete(path)


def invoice_image_cache_clear(invoice: Invoice) -> None:
    """Forget every cached image of the invoice (the next view fetches again)."""
    for key, source in SOURCES.items():
        if source.cacheable:
            _delete_cached(key, invoice)
        cache.delete(_no_image_key(key, invoice))


def _try_source(source: ImageSource, invoice: Invoice) -> tuple[bytes | None, bool, str]:
    """(pdf or None, served from cache, why it was skipped)."""
    if source.cacheable:
        cached = _read_cached(source.key, invoice)
        if cached is not None:
            return cached, True, ""
        if cache.get(_no_image_key(source.key, invoice)):
            return None, False, _("No image for this invoice (checked recently).")
        if cache.get(_cooldown_key(source.key)):
            return None, False, _("Failed a moment ago; tried again shortly.")
    try:
        pdf = source.fetch(invoice)
    except ImageSourceError as exc:
        logger.warning("Invoice image source %s failed for invoice %s: %s", source.key, invoice.pk, exc)
        if exc.cooldown:
            cache.set(_cooldown_key(source.key), True, FAILURE_COOLDOWN)
        return None, False, str(exc)
    except Exception:
        logger.exception("Invoice image source %s crashed for invoice %s", source.key, invoice.pk)
        cache.set(_cooldown_key(source.key), True, FAILURE_COOLDOWN)
        return None, False, _("Failed unexpectedly (see the server log).")
    if not pdf:
        logger.info("Invoice image source %s has no image for invoice %s", source.key, invoice.pk)
        if source.cacheable:
            cache.set(_no_image_key(source.key, invoice), True, NO_IMAGE_TTL)
        return None, False, _("No image for this invoice.")
    if source.cacheable:
        _write_cached(source.key, invoice, pdf)
    return pdf, False, ""


def resolve_invoice_image(invoice: Invoice, *, config: list[ConfiguredSource] | None = None) -> ResolvedImage:
    """The invoice's image from the first enabled source that has one; never fails."""
    config = image_source_config() if config is None else config
    skipped: list[SkippedSource] = []
    tried_portal = False
    for item in config:
        source = item.source
        if not item.enabled:
            continue
        if source.key == PORTAL_KEY:
            tried_portal = True
        status = source.status()
        if not status.available:
            skipped.append(SkippedSource(source.key, status.name, status.label))
            continue
        pdf, from_cache, reason = _try_source(source, invoice)
        if pdf:
            return ResolvedImage(
                pdf,
                source.key,
                status.name,
                invoice_image_filename(invoice),
                from_cache=from_cache,
                skipped=tuple(skipped),
            )
        skipped.append(SkippedSource(source.key, status.name, reason))
    # The last resort: the portal's own rendering (a disabled check box does not remove it).
    portal = SOURCES[PORTAL_KEY]
    if tried_portal:
        logger.error("The portal rendering failed for invoice %s; rendering again as the last resort", invoice.pk)
    try:
        pdf = portal.fetch(invoice)
    except Exception:
        # The page must still show the invoice: without an image, and the log says why.
        logger.exception("The portal rendering of invoice %s failed; showing it without an image", invoice.pk)
        pdf = None
    return ResolvedImage(
        pdf,
        portal.key,
        portal.name,
        invoice_image_filename(invoice),
        last_resort=True,
        skipped=tuple(skipped),
    )
