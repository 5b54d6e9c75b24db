"""Billing writes: the image-source order, client comments and portal access requests."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from accounts.services import audit_record
from billing import signals
from billing.image_sources import SOURCES
from billing.models import (
    AccessRequestStatus,
    Invoice,
    InvoiceComment,
    InvoiceImageSource,
    PortalAccessRequest,
)
from billing.selectors import ConfiguredSource, image_source_config
from organizations.models import Contact

COMMENT_MAX_LENGTH = 2000
# The same comment posted again this soon (a double click, a resubmitted form) is ignored.
COMMENT_DUPLICATE_WINDOW = timedelta(seconds=60)
# Access requests: at most this many per client IP per hour; one pending request per e-mail.
ACCESS_REQUESTS_PER_IP_PER_HOUR = 5


@transaction.atomic
def image_sources_save(*, actor: User, order: list[str], enabled: set[str]) -> list[ConfiguredSource]:
    """Store the order (every source exactly once) and the check boxes."""
    known = set(SOURCES)
    if len(order) != len(set(order)) or set(order) != known:
        raise ValidationError(
            "The order must list each invoice-image source exactly once. Reload the page and try again."
        )
    unknown = set(enabled) - known
    if unknown:
        raise ValidationError(f"Unknown invoice-image source: {', '.join(sorted(unknown))}.")
    before = [(c.key, c.enabled) for c in image_source_config()]
    for position, key in enumerate(order, start=1):
        InvoiceImageSource.objects.update_or_create(
            key=key, defaults={"position": position, "enabled": key in enabled, "updated_by": actor}
        )
    after = image_source_config()
    if before != [(c.key, c.enabled) for c in after]:
        summary = ", ".join(f"{c.source.name}{'' if c.enabled else ' (disabled)'}" for c in after)
        audit_record(
            actor=actor,
            action="billing.image_sources.save",
            target="Invoice Image Data",
            summary=f"Invoice image order: {summary}",
            order=[c.key for c in after],
            enabled=[c.key for c in after if c.enabled],
        )
    return after


def invoice_comment_create(*, invoice: Invoice, author: User, body: str) -> tuple[InvoiceComment, bool]:
    """Store a client's comment and announce it after commit. A repeat of the same comment
    within a minute returns the first one (created=False) and announces nothing."""
    body = (body or "").strip()
    if not body:
        raise ValidationError("Write a comment before sending it.")
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationError(f"A comment can be at most {COMMENT_MAX_LENGTH} characters long ({len(body)} given).")
    with transaction.atomic():
        duplicate = (
            InvoiceComment.objects.select_for_update()
            .filter(
                invoice=invoice, author=author, body=body, created_at__gte=timezone.now() - COMMENT_DUPLICATE_WINDOW
            )
            .first()
        )
        if duplicate is not None:
            return duplicate, False
        comment = InvoiceComment.objects.create(
            invoice=invoice, author=author, author_name=author.full_name or author.email, body=body
        )
        transaction.on_commit(lambda: signals.invoice_comment_posted.send(sender=InvoiceComment, comment=comment))
    return comment, True


def _ip_key(ip: str) -> str:
    return f"access-request:ip:{hashlib.sha256(ip.encode()).hexdigest()[:32]}"


def access_request_create(
    *, email: str, full_name: str, company: str = "", message: str = "", ip: str = ""
) -> PortalAccessRequest | None:
    """Record a request for portal access and announce it after commit.

    Returns None when nothing new was stored (a pending request for the e-mail exists, or
    the IP sent too many); the requester sees the same answer either way, so the form never
    tells whether an address is known.
    """
    email = email.strip().lower()
    if ip and not cache.add(_ip_key(ip), 1, timeout=60 * 60):
        try:
            count = cache.incr(_ip_key(ip))
        except ValueError:
            count = 1
        if count > ACCESS_REQUESTS_PER_IP_PER_HOUR:
            raise ValidationError("Too many access requests from your network. Try again in an hour.")
    with transaction.atomic():
        if PortalAccessRequest.objects.filter(email=email, status=AccessRequestStatus.PENDING).exists():
            return None
        contact = (
            Contact.objects.select_related("organization")
            .filter(
                email__iexact=email,
                deleted_at__isnull=True,
                is_active=True,
                organization__isnull=False,
                organization__deleted_at__isnull=True,
            )
            .order_by("-is_poc", "-receives_invoices", "id")
            .first()
        )
        request = PortalAccessRequest.objects.create(
            email=email,
            full_name=full_name.strip(),
            company=company.strip(),
            message=message.strip(),
            contact=contact,
            organization=contact.organization if contact else None,
        )
        transaction.on_commit(
            lambda: signals.portal_access_requested.send(sender=PortalAccessRequest, access_request=request)
        )
    return request


def access_request_close(
    *, access_request: PortalAccessRequest, actor: User, status: str = AccessRequestStatus.DISMISSED
) -> PortalAccessRequest:
    if access_request.status == AccessRequestStatus.PENDING:
        access_request.status = status
        access_request.handled_by = actor
        access_request.handled_at = timezone.now()
        access_request.save(update_fields=["status", "handled_by", "handled_at"])
        audit_record(
            actor=actor,
            action=f"portal.access_request.{status}",
            target=access_request.email,
            summary=f"Portal access request from {access_request.email}: {access_request.get_status_display()}",
        )
    return access_request
