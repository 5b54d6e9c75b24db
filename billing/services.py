"""Billing writes: the image-source order and invoice threads (client comments, staff replies)."""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import audit_record
from billing import signals
from billing.image_sources import SOURCES
from billing.models import Invoice, InvoiceComment, InvoiceImageSource
from billing.selectors import ConfiguredSource, image_source_config, reply_refusal

COMMENT_MAX_LENGTH = 2000
# The same comment posted again this soon (a double click, a resubmitted form) is ignored.
COMMENT_DUPLICATE_WINDOW = timedelta(seconds=60)


@transaction.atomic
def image_sources_save(*, actor: User, order: list[str], enabled: set[str]) -> list[ConfiguredSource]:
    """Store the order (every source exactly once) and the check boxes."""
    known = set(SOURCES)
    if len(order) != len(set(order)) or set(order) != known:
        raise ValidationError(
            _("The order must list each invoice-image source exactly once. Reload the page and try again.")
        )
    unknown = set(enabled) - known
    if unknown:
        raise ValidationError(_("Unknown invoice-image source: %(keys)s.") % {"keys": ", ".join(sorted(unknown))})
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
    return _thread_post(invoice=invoice, author=author, body=body, is_staff_reply=False)


def invoice_comment_reply(*, invoice: Invoice, author: User, body: str) -> tuple[InvoiceComment, bool]:
    """Store a staff reply in the invoice's thread, audited, and announce it after commit (the
    client is e-mailed). Refused while no client can read it: the invoice or its organization
    was deleted. A repeat within a minute returns the first reply (created=False)."""
    if not author.is_portal_staff:
        raise ValidationError(_("Only Master Admin and Billing staff can reply to a client's comments."))
    refusal = reply_refusal(invoice)
    if refusal:
        raise ValidationError(refusal)
    organization = invoice.organization
    with transaction.atomic():
        reply, created = _thread_post(invoice=invoice, author=author, body=body, is_staff_reply=True)
        if created:
            audit_record(
                actor=author,
                action="billing.comment_replied",
                target=f"Invoice {invoice.number}",
                summary=f"Replied to {organization.name} on invoice {invoice.number}",
                invoice_id=invoice.pk,
                comment_id=reply.pk,
                organization_id=organization.pk,
            )
    return reply, created


def _thread_post(*, invoice: Invoice, author: User, body: str, is_staff_reply: bool) -> tuple[InvoiceComment, bool]:
    body = (body or "").strip()
    if not body:
        raise ValidationError(
            _("Write a reply before sending it.") if is_staff_reply else _("Write a comment before sending it.")
        )
    if len(body) > COMMENT_MAX_LENGTH:
        too_long = (
            _("A reply can be at most %(limit)d characters long (%(given)d given).")
            if is_staff_reply
            else _("A comment can be at most %(limit)d characters long (%(given)d given).")
        )
        raise ValidationError(too_long % {"limit": COMMENT_MAX_LENGTH, "given": len(body)})
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
            invoice=invoice,
            author=author,
            author_name=author.full_name or author.email,
            body=body,
            is_staff_reply=is_staff_reply,
        )
        transaction.on_commit(lambda: signals.invoice_comment_posted.send(sender=InvoiceComment, comment=comment))
    return comment, True
