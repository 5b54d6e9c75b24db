"""Notifications: the one API that fires them, and the deliveries that send them exactly once.

``notification_fire`` writes a Notification and one Delivery per channel in one transaction;
Celery tasks are enqueued only after it commits. A delivery is claimed with a lease (a
conditional UPDATE), so two copies of a task never send at once; every attempt is committed
before anything leaves the portal. A ticket carries its delivery's key in the details: an
attempt after the first searches BMS for that key and adopts what it finds instead of
creating a second ticket (reliability.md §3).
"""

from __future__ import annotations

import logging
import os
import random
import smtplib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.services import audit_record
from integrations.base import Activity, IntegrationError
from integrations.capabilities import TicketDraft
from notifications import selectors
from notifications.models import (
    CLAIMABLE_STATUSES,
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
    NotificationSettings,
)
from notifications.types import SPECS, Audience, NotificationKind, spec_for

logger = logging.getLogger(__name__)

#: Test hook: called after BMS created a ticket and before the portal records it.
AFTER_TICKET_CREATED: Callable[[Delivery, Any], None] | None = None

MAX_ERRORS_KEPT = 20


class DeliveryFailed(Exception):
    """A permanent failure: retrying cannot help until someone changes something."""


class DeliveryRetry(Exception):
    """A transient failure: try again later."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class DeliveryOutcome:
    status: str
    retry_in: float | None = None  # seconds: enqueue the task again


# --- firing --------------------------------------------------------------------------------------


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def preference_for(kind: str) -> NotificationPreference:
    return NotificationPreference.objects.filter(kind=kind).first() or NotificationPreference(kind=kind)


def notification_fire(
    kind: str,
    *,
    organization=None,
    context: dict[str, Any] | None = None,
    actor=None,
    invoice=None,
    event_key: str | None = None,
    is_test: bool = False,
) -> Notification:
    """Fire a notification: record it and queue its e-mail and service ticket.

    ``organization`` None means internal. ``context`` holds JSON-safe facts the templates use
    (amount, reason, ...; ``invoice_id`` loads the invoice). ``event_key`` names the event:
    firing the same event again returns the first notification and sends nothing more.
    """
    spec = spec_for(kind)
    context = _json_safe(dict(context or {}))
    if invoice is None and context.get("invoice_id"):
        from billing.models import Invoice

        invoice = Invoice.objects.filter(pk=context["invoice_id"]).first()
    if invoice is not None:
        context.setdefault("invoice_id", invoice.pk)
        if organization is None and spec.audience != Audience.INTERNAL:
            organization = invoice.organization
    if event_key:
        existing = Notification.objects.filter(event_key=event_key).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=spec.kind,
                organization=organization,
                invoice=invoice,
                context=context,
                event_key=event_key or None,
                is_test=is_test,
                actor=actor if actor is not None and actor.pk else None,
            )
            deliveries = _create_deliveries(notification)
            if actor is not None and actor.pk:
                audit_record(
                    actor=actor,
                    action="notification.test" if is_test else "notification.fired",
                    target=spec.label,
                    summary=f"Sent a{' test' if is_test else ''} {spec.label} notification"
                    + (f" for {organization}" if organization else ""),
                )
            pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
            transaction.on_commit(lambda: [_enqueue(d.pk, d.channel) for d in pending])
    except IntegrityError:
        if event_key:  # the same event fired concurrently: the other one won
            existing = Notification.objects.filter(event_key=event_key).first()
            if existing is not None:
                return existing
        raise
    logger.info(
        "Notification %s (%s) fired: %s",
        notification.pk,
        spec.kind.value,
        ", ".join(f"{d.channel}={d.status}" for d in deliveries),
    )
    return notification


def _create_deliveries(notification: Notification) -> list[Delivery]:
    spec = spec_for(notification.kind)
    pref = preference_for(notification.kind)
    base = str(notification.uuid)

    email = Delivery(notification=notification, channel=Channel.EMAIL, dedupe_key=f"{base}:email")
    if not pref.email_enabled:
        email.status, email.reason = DeliveryStatus.SKIPPED, f"Email is turned off for {spec.label}."
    else:
        found = selectors.recipients_for(notification)
        email.recipients, email.recipient_source = found.emails, found.source
        if not found.emails:
            email.status, email.reason = DeliveryStatus.SKIPPED, f"No email sent: {found.reason}"
            logger.warning("Notification %s: no email sent: %s", notification.pk, found.reason)

    ticket = Delivery(notification=notification, channel=Channel.TICKET, dedupe_key=f"{base}:ticket")
    if not pref.ticket_enabled:
        ticket.status, ticket.reason = DeliveryStatus.SKIPPED, f"Service Ticket is turned off for {spec.label}."
    elif selectors.ticket_installation() is None:
        ticket.status, ticket.reason = DeliveryStatus.SKIPPED, "BMS is not connected, so ticket creation is off."
    Delivery.objects.bulk_create([email, ticket])
    return [email, ticket]


def _enqueue(delivery_id: int, channel: str, countdown: float | None = None) -> None:
    from notifications.tasks import deliver_email_task, deliver_ticket_task

    task = deliver_email_task if channel == Channel.EMAIL else deliver_ticket_task
    try:
        task.apply_async((delivery_id,), countdown=countdown)
    except Exception:  # broker down: the sweep picks the delivery up later
        logger.exception("Could not enqueue delivery %s; the sweep will retry it", delivery_id)


# --- rendering -----------------------------------------------------------------------------------


class _Facts(dict):
    def __missing__(self, key: str) -> str:
        return ""


def _money(value: Any) -> str:
    try:
        return f"{Decimal(str(value)):,.2f}"
    except (InvalidOperation, ValueError, TypeError):
        return str(value or "")


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def render_context(notification: Notification) -> dict[str, Any]:
    spec = spec_for(notification.kind)
    c = notification.context or {}
    invoice = notification.invoice
    org = notification.organization
    facts = _Facts(
        kind=spec.label,
        msp_name=settings.MSP_NAME,
        organization=str(org) if org else settings.MSP_NAME,
        amount=_money(c["amount"]) if c.get("amount") not in (None, "") else "",
        reason=c.get("reason", ""),
        source=c.get("source", ""),
        requester=c.get("requester_name") or c.get("requester_email", ""),
        requester_email=c.get("requester_email", ""),
        author=c.get("author_name") or c.get("author_email", ""),
        comment=c.get("comment", ""),
        message=c.get("message", ""),
        days_past_due=str(c.get("days_past_due", "")),
        portal_url=_absolute(reverse("client:invoices")),
        staff_url=_absolute(reverse("billing:invoices")),
        sync_history_url=_absolute(reverse("integrations:sync-history")),
        log_url=_absolute(reverse("notifications:log")),
        invoice_number="",
    )
    if invoice is not None:
        facts.update(
            invoice_number=invoice.number,
            invoice_total=_money(invoice.total),
            balance_due=_money(invoice.balance_due),
            due_date=f"{invoice.due_date:%Y-%m-%d}" if invoice.due_date else "on receipt",
            invoice_date=f"{invoice.invoice_date:%Y-%m-%d}" if invoice.invoice_date else "",
        )
        if not facts["amount"]:
            facts["amount"] = facts["balance_due"]
    facts["summary"] = spec.summary.format_map(facts)
    return {
        **facts,
        "facts": facts,
        "notification": notification,
        "invoice": invoice,
        "organization_obj": org,
        "spec": spec,
        "is_test": notification.is_test,
    }


def email_subject(notification: Notification, ctx: dict | None = None) -> str:
    ctx = ctx or render_context(notification)
    subject = spec_for(notification.kind).subject.format_map(ctx["facts"])
    return f"[Test] {subject}" if notification.is_test else subject


def ticket_title(notification: Notification, ctx: dict | None = None) -> str:
    return email_subject(notification, ctx)[:250]


def ticket_details(notification: Notification, delivery_key: str, ctx: dict | None = None) -> str:
    ctx = ctx or render_context(notification)
    body = render_to_string("notifications/ticket_details.txt", ctx).strip()
    return f"{body}\n\n[portal-ref:{delivery_key}]"


def email_bodies(notification: Notification, ctx: dict | None = None) -> tuple[str, str]:
    ctx = ctx or render_context(notification)
    kind = spec_for(notification.kind).kind.value
    text = render_to_string(f"notifications/email/{kind}.txt", ctx)
    html = render_to_string(f"notifications/email/{kind}.html", ctx)
    return text, html


@dataclass
class Preview:
    subject: str
    text: str
    html: str
    recipients: list[str]
    recipient_source: str
    recipient_reason: str
    ticket_title: str
    ticket_details: str
    ticket_note: str
    attachment_note: str


def notification_preview(kind: str, *, organization=None) -> Preview:
    """What a test notification for this type and organization would send (nothing is saved)."""
    notification = _test_notification(kind, organization)
    ctx = render_context(notification)
    text, html = email_bodies(notification, ctx)
    found = selectors.recipients_for(notification)
    pref = preference_for(kind)
    spec = spec_for(kind)
    if not pref.ticket_enabled:
        ticket_note = f"Service Ticket is turned off for {spec.label}: no ticket will be created."
    elif selectors.ticket_installation() is None:
        ticket_note = "BMS is not connected: no ticket will be created."
    else:
        ticket_note = ""
    attachment = ""
    if spec.concerns_invoice:
        attachment = (
            f"The PDF of invoice {notification.invoice.number} is attached."
            if notification.invoice
            else "No invoice to attach: the organization has none synced."
        )
    return Preview(
        subject=email_subject(notification, ctx),
        text=text,
        html=html,
        recipients=found.emails if pref.email_enabled else [],
        recipient_source=found.source,
        recipient_reason=found.reason if pref.email_enabled else f"Email is turned off for {spec.label}.",
        ticket_title=ticket_title(notification, ctx),
        ticket_details=ticket_details(notification, "<key>:ticket", ctx),
        ticket_note=ticket_note,
        attachment_note=attachment,
    )


def _test_context(kind: str, organization) -> tuple[dict[str, Any], Any]:
    from billing.models import Invoice

    spec = spec_for(kind)
    invoice = None
    if spec.concerns_invoice and organization is not None:
        invoices = Invoice.objects.filter(organization=organization, deleted_at__isnull=True)
        invoice = invoices.filter(balance_due__gt=0).order_by("-invoice_date").first() or invoices.first()
    kind = spec.kind
    context: dict[str, Any] = {}
    if kind in (
        NotificationKind.PAYMENT_SUCCESSFUL,
        NotificationKind.PAYMENT_FAILED,
        NotificationKind.PAYMENT_SCHEDULED,
    ):
        context["amount"] = str(invoice.balance_due) if invoice else "100.00"
    if kind in (
        NotificationKind.PAYMENT_FAILED,
        NotificationKind.AUTOPAY_CHANGED,
        NotificationKind.PAYMENT_METHOD_CHANGED,
        NotificationKind.SYNC_FAILED,
        NotificationKind.SYNC_NOT_RUNNING,
    ):
        context["reason"] = "This is a test notification sent from the portal."
    if kind == NotificationKind.INVOICE_PAST_DUE:
        context["days_past_due"] = 15
    if kind == NotificationKind.CLIENT_COMMENTED:
        context.update(
            author_name="Test Contact", author_email="contact@example.com", comment="This is a test comment."
        )
    if kind == NotificationKind.PORTAL_ACCESS_REQUESTED:
        context.update(
            requester_name="Test Requester", requester_email="requester@example.com", message="This is a test request."
        )
    if spec.audience == Audience.INTERNAL:
        context["source"] = "Kaseya BMS"
    return context, invoice


def _test_notification(kind: str, organization) -> Notification:
    context, invoice = _test_context(kind, organization)
    return Notification(kind=kind, organization=organization, invoice=invoice, context=context, is_test=True)


def notification_send_test(kind: str, *, organization=None, actor=None) -> Notification:
    """Staff action: fire any type for a chosen organization (marked as a test)."""
    context, invoice = _test_context(kind, organization)
    return notification_fire(
        kind, organization=organization, context=context, invoice=invoice, actor=actor, is_test=True
    )


# --- delivering ----------------------------------------------------------------------------------


def _claim(delivery_id: int) -> tuple[Delivery | None, str]:
    """Take the delivery for one attempt: (delivery, lease token), or (None, why not)."""
    now = timezone.now()
    token = uuid.uuid4().hex
    claimable = Q(status__in=CLAIMABLE_STATUSES) | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    updated = Delivery.objects.filter(claimable, pk=delivery_id).update(
        status=DeliveryStatus.SENDING,
        lease_token=token,
        lease_until=now + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS),
        attempts=F("attempts") + 1,
        next_attempt_at=None,
    )
    if updated:
        return Delivery.objects.select_related("notification__organization", "notification__invoice").get(
            pk=delivery_id
        ), token
    current = Delivery.objects.filter(pk=delivery_id).values("status", "lease_until").first()
    if current is None:
        return None, "gone"
    if current["status"] == DeliveryStatus.SENDING:
        return None, "busy"
    return None, current["status"]


def _busy_outcome(delivery_id: int) -> DeliveryOutcome:
    """Another worker holds the lease: look again when it runs out (it may have died)."""
    lease_until = Delivery.objects.filter(pk=delivery_id).values_list("lease_until", flat=True).first()
    wait = max(1.0, (lease_until - timezone.now()).total_seconds() + 1) if lease_until else 1.0
    return DeliveryOutcome("busy", retry_in=wait)


def _finish(delivery: Delivery, token: str, **fields) -> bool:
    fields.setdefault("lease_token", "")
    fields.setdefault("lease_until", None)
    updated = Delivery.objects.filter(pk=delivery.pk, lease_token=token).update(updated_at=timezone.now(), **fields)
    if not updated:
        logger.warning("Delivery %s: lease lost before recording the result", delivery.pk)
    return bool(updated)


def _record_error(
    delivery: Delivery, token: str, message: str, *, transient: bool, retry_after: float = 0.0
) -> DeliveryOutcome:
    now = timezone.now()
    errors = [
        *delivery.errors,
        {"at": now.isoformat(), "attempt": delivery.attempts, "error": message, "transient": transient},
    ][-MAX_ERRORS_KEPT:]
    if transient and delivery.attempts < settings.NOTIFICATIONS_MAX_ATTEMPTS:
        cap = settings.NOTIFICATIONS_RETRY_BACKOFF_MAX_SECONDS
        base = settings.NOTIFICATIONS_RETRY_BACKOFF_SECONDS
        wait = max(retry_after, random.uniform(0, min(cap, base * 2 ** (delivery.attempts - 1))))
        wait = min(max(wait, 0.5), max(cap, retry_after))
        _finish(
            delivery,
            token,
            status=DeliveryStatus.RETRYING,
            errors=errors,
            reason="",
            next_attempt_at=now + timedelta(seconds=wait),
        )
        logger.info(
            "Delivery %s attempt %s failed (%s); retrying in %.1f s", delivery.pk, delivery.attempts, message, wait
        )
        return DeliveryOutcome("retrying", retry_in=wait)
    reason = message if not transient else f"Gave up after {delivery.attempts} attempts: {message}"
    _finish(delivery, token, status=DeliveryStatus.FAILED, errors=errors, reason=reason)
    logger.warning("Delivery %s failed: %s", delivery.pk, reason)
    return DeliveryOutcome("failed")


def delivery_send_email(delivery_id: int) -> DeliveryOutcome:
    delivery, why = _claim(delivery_id)
    if delivery is None:
        return _busy_outcome(delivery_id) if why == "busy" else DeliveryOutcome(why)
    try:
        message, note = _email_message(delivery)
        message.connection = get_connection(settings.NOTIFICATIONS_EMAIL_BACKEND or None)
        sent = message.send(fail_silently=False)
        if not sent:
            raise DeliveryRetry("The mail server accepted no message.")
    except DeliveryFailed as exc:
        return _record_error(delivery, delivery.lease_token, str(exc), transient=False)
    except (
        DeliveryRetry,
        smtplib.SMTPServerDisconnected,
        smtplib.SMTPConnectError,
        ConnectionError,
        TimeoutError,
    ) as exc:
        return _record_error(delivery, delivery.lease_token, _smtp_reason(exc), transient=True)
    except smtplib.SMTPResponseException as exc:
        return _record_error(delivery, delivery.lease_token, _smtp_reason(exc), transient=400 <= exc.smtp_code < 500)
    except smtplib.SMTPRecipientsRefused as exc:
        return _record_error(delivery, delivery.lease_token, _smtp_reason(exc), transient=False)
    except (smtplib.SMTPException, OSError) as exc:
        return _record_error(delivery, delivery.lease_token, _smtp_reason(exc), transient=True)
    _finish(delivery, delivery.lease_token, status=DeliveryStatus.SENT, sent_at=timezone.now(), reason=note)
    return DeliveryOutcome("sent")


def _smtp_reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(f"{addr} ({code})" for addr, (code, _msg) in exc.recipients.items())
        return f"The mail server refused the recipients: {refused}"
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"The mail server answered {exc.smtp_code}: {text}"[:500]
    return f"Could not send the email: {type(exc).__name__}: {exc}"[:500]


def _email_message(delivery: Delivery) -> tuple[EmailMultiAlternatives, str]:
    notification = delivery.notification
    ctx = render_context(notification)
    text, html = email_bodies(notification, ctx)
    domain = settings.DEFAULT_FROM_EMAIL.rpartition("@")[2] or "portal.local"
    message = EmailMultiAlternatives(
        subject=email_subject(notification, ctx),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(delivery.recipients),
        # The same Message-ID on every attempt: mail systems drop a duplicate after a crash.
        headers={
            "Message-ID": f"<{delivery.dedupe_key.replace(':', '.')}@{domain}>",
            "X-Portal-Ref": delivery.dedupe_key,
        },
    )
    message.attach_alternative(html, "text/html")
    note = ""
    if spec_for(notification.kind).concerns_invoice and notification.invoice is not None:
        note = _attach_invoice_pdf(message, notification.invoice)
    return message, note


def _attach_invoice_pdf(message: EmailMultiAlternatives, invoice) -> str:
    try:
        from billing.images import resolve_invoice_image
    except ImportError:
        return "Sent without the invoice PDF: the invoice image resolver is not available."
    try:
        image = resolve_invoice_image(invoice)
    except Exception as exc:
        logger.warning("Invoice %s PDF unavailable: %s", invoice.pk, type(exc).__name__)
        return f"Sent without the invoice PDF: {exc}"[:500]
    pdf = getattr(image, "pdf", None) if image is not None else None
    if not pdf:
        return "Sent without the invoice PDF: no invoice image source had one."
    safe_number = "".join(ch for ch in invoice.number if ch.isalnum() or ch in "-_.") or str(invoice.pk)
    message.attach(f"invoice-{safe_number}.pdf", pdf, "application/pdf")
    return ""


# --- tickets --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TicketConfig:
    status_id: int
    priority_id: int
    type_id: int
    source_id: int
    queue_id: int | None
    issue_type_id: int | None
    sub_issue_type_id: int | None
    internal_account_id: int | None


def ticket_config_effective(config: NotificationSettings, installation) -> TicketConfig:
    """The saved Service Ticket Configuration, with BMS's defaults for required fields left unset."""
    required = {
        "status_id": config.status_id,
        "priority_id": config.priority_id,
        "type_id": config.ticket_type_id,
        "source_id": config.source_id,
    }
    if any(v is None for v in required.values()):
        try:
            lookups = selectors.ticket_lookups(installation)
        except selectors.LookupUnavailable as exc:
            raise DeliveryRetry(str(exc)) from exc
        defaults = {
            "status_id": "statuses",
            "priority_id": "priorities",
            "type_id": "ticket_types",
            "source_id": "sources",
        }
        for name, attr in defaults.items():
            if required[name] is None:
                required[name] = lookups.default_id(attr)
    missing = [n.replace("_id", "").replace("type", "ticket type") for n, v in required.items() if v is None]
    if missing:
        raise DeliveryFailed(
            "Service Ticket Configuration is incomplete: BMS offers no default for "
            + ", ".join(missing)
            + ". Set it on Configurations > Notifications."
        )
    return TicketConfig(
        **required,
        queue_id=config.queue_id,
        issue_type_id=config.issue_type_id,
        sub_issue_type_id=config.sub_issue_type_id,
        internal_account_id=config.internal_account_id,
    )


def _ticket_account(notification: Notification, cfg: TicketConfig) -> tuple[int, Any]:
    spec = spec_for(notification.kind)
    org = notification.organization
    if spec.audience != Audience.INTERNAL and org is not None and org.bms_id:
        return org.bms_id, org
    if spec.audience == Audience.CLIENT:
        raise DeliveryFailed("The notification concerns no BMS account, so no ticket can be created for it.")
    if cfg.internal_account_id is None:
        raise DeliveryFailed(
            "Set the MSP's own BMS account in Service Ticket Configuration: internal notifications "
            "create their tickets there."
        )
    return cfg.internal_account_id, None


def delivery_create_ticket(delivery_id: int) -> DeliveryOutcome:
    delivery, why = _claim(delivery_id)
    if delivery is None:
        return _busy_outcome(delivery_id) if why == "busy" else DeliveryOutcome(why)
    token = delivery.lease_token
    installation = selectors.ticket_installation()
    if installation is None:
        return _record_error(delivery, token, "BMS is not connected, so no ticket can be created.", transient=False)
    try:
        cfg = ticket_config_effective(selectors.notification_settings_get(), installation)
        account_id, org = _ticket_account(delivery.notification, cfg)
        if delivery.attempts > 1:
            # An earlier attempt may have created the ticket and lost the PSA's answer, or died
            # before recording it: find it by its key instead of creating another.
            existing = installation.find_ticket(
                marker=delivery.marker,
                account_id=delivery.bms_account_id or account_id,
                created_from=delivery.created_at - timedelta(hours=1),
            )
            if existing is not None:
                _finish(
                    delivery,
                    token,
                    status=DeliveryStatus.SENT,
                    sent_at=timezone.now(),
                    adopted=True,
                    bms_ticket_id=existing.id,
                    bms_ticket_number=existing.number,
                    bms_account_id=existing.account_id or account_id,
                    reason="",
                )
                logger.info("Delivery %s: adopted ticket %s found by its key", delivery.pk, existing.number)
                return DeliveryOutcome("adopted")
        draft = _ticket_draft(delivery, cfg, account_id, org.main_location_bms_id if org is not None else None)
        # Renew the lease just before the POST, so the sweep cannot hand this delivery to
        # another worker while the ticket is being created; give up if it already has.
        renewed = Delivery.objects.filter(pk=delivery.pk, lease_token=token).update(
            bms_account_id=account_id,
            lease_until=timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_LEASE_SECONDS),
        )
        if not renewed:
            return DeliveryOutcome("lease-lost")
        ticket = installation.create_ticket(draft)
        _after_ticket_created(delivery, ticket)
        _finish(
            delivery,
            token,
            status=DeliveryStatus.SENT,
            sent_at=timezone.now(),
            bms_ticket_id=ticket.id,
            bms_ticket_number=ticket.number,
            reason="",
        )
        logger.info("Delivery %s: created ticket %s", delivery.pk, ticket.number)
        return DeliveryOutcome("sent")
    except DeliveryFailed as exc:
        return _record_error(delivery, token, str(exc), transient=False)
    except DeliveryRetry as exc:
        return _record_error(delivery, token, str(exc), transient=True, retry_after=exc.retry_after)
    except IntegrationError as exc:
        return _record_error(
            delivery,
            token,
            installation.error_message(exc, doing=Activity.SERVICE_TICKET),
            transient=exc.transient,
            retry_after=exc.retry_after,
        )


def _after_ticket_created(delivery: Delivery, ticket) -> None:
    if AFTER_TICKET_CREATED is not None:
        AFTER_TICKET_CREATED(delivery, ticket)
    if settings.NOTIFICATIONS_FAULT_AFTER_TICKET_CREATE == "exit":
        logger.warning("Fault injection: the worker exits after creating ticket %s", ticket.number)
        os._exit(1)


def _ticket_draft(delivery: Delivery, cfg: TicketConfig, account_id: int, location_id: int | None) -> TicketDraft:
    notification = delivery.notification
    ctx = render_context(notification)
    return TicketDraft(
        title=ticket_title(notification, ctx),
        details=ticket_details(notification, delivery.dedupe_key, ctx),
        account_id=account_id,
        location_id=location_id,
        status_id=cfg.status_id,
        priority_id=cfg.priority_id,
        type_id=cfg.type_id,
        source_id=cfg.source_id,
        open_date=timezone.now(),
        queue_id=cfg.queue_id,
        issue_type_id=cfg.issue_type_id,
        sub_issue_type_id=cfg.sub_issue_type_id if cfg.issue_type_id else None,
    )


# --- staff actions and upkeep --------------------------------------------------------------------


def delivery_retry(*, delivery: Delivery, actor) -> Delivery:
    """From the log: queue a failed (or not sent) delivery again. Recipients are looked up anew."""
    if not delivery.can_retry:
        raise ValueError("Only a failed, retrying or not-sent delivery can be retried.")
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)
        if not delivery.can_retry:
            raise ValueError("Only a failed, retrying or not-sent delivery can be retried.")
        fields: dict[str, Any] = {"status": DeliveryStatus.PENDING, "reason": "", "next_attempt_at": None}
        if delivery.channel == Channel.EMAIL and (delivery.status == DeliveryStatus.SKIPPED or not delivery.recipients):
            found = selectors.recipients_for(delivery.notification)
            if not found.emails:
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=DeliveryStatus.SKIPPED, reason=f"No email sent: {found.reason}"
                )
                delivery.refresh_from_db()
                return delivery
            fields.update(recipients=found.emails, recipient_source=found.source)
        Delivery.objects.filter(pk=delivery.pk).update(**fields)
        audit_record(
            actor=actor,
            action="notification.retry",
            target=str(delivery.notification),
            summary=f"Retried the {delivery.get_channel_display()} of {delivery.notification}",
        )
        transaction.on_commit(lambda: _enqueue(delivery.pk, delivery.channel))
    delivery.refresh_from_db()
    return delivery


def deliveries_sweep() -> dict[str, int]:
    """Beat, every minute: re-queue deliveries whose task was lost (broker hiccup, worker death),
    and turn unhandled sync alerts into notifications."""
    now = timezone.now()
    due = Delivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, created_at__lt=now - timedelta(minutes=2))
        | Q(status=DeliveryStatus.RETRYING, next_attempt_at__lt=now - timedelta(minutes=1))
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    ).values_list("pk", "channel")[:500]
    requeued = 0
    for pk, channel in due:
        _enqueue(pk, channel)
        requeued += 1
    alerts = sync_alerts_process() if settings.NOTIFICATIONS_LISTEN_TO_SYNC else 0
    return {"requeued": requeued, "alerts": alerts}


def notification_settings_save(
    *,
    actor,
    preferences: dict[str, tuple[bool, bool]],
    staff_recipients: str,
    ticket_fields: dict[str, Any] | None,
    names: dict[str, str] | None = None,
) -> NotificationSettings:
    """Save the check boxes, staff recipients and (when BMS is connected) the Service Ticket
    Configuration together. Validation (against BMS) happens in the form before this."""
    with transaction.atomic():
        config = NotificationSettings.objects.select_for_update().get_or_create(pk=1)[0]
        for kind, (email, ticket) in preferences.items():
            NotificationPreference.objects.update_or_create(
                kind=spec_for(kind).kind, defaults={"email_enabled": email, "ticket_enabled": ticket}
            )
        config.staff_recipients = staff_recipients
        if ticket_fields is not None:
            for name, value in ticket_fields.items():
                setattr(config, name, value)
            config.names = names or {}
        config.updated_by = actor
        config.save()
        off_email = [spec_for(k).label for k, (e, _t) in preferences.items() if not e]
        off_ticket = [spec_for(k).label for k, (_e, t) in preferences.items() if not t]
        audit_record(
            actor=actor,
            action="notifications.settings_saved",
            target="Notifications",
            summary="Saved the notification settings",
            email_off=off_email,
            ticket_off=off_ticket,
            ticket_config={k: v for k, v in (ticket_fields or {}).items()},
        )
    return config


# --- events from other apps ----------------------------------------------------------------------


def new_invoices_notify(*, run) -> list[Notification]:
    """After a successful sync: New Invoice for each invoice this run stored first, except on a
    source's first successful sync (which pulls the whole history)."""
    from billing.models import Invoice
    from integrations.models import SyncRun, SyncStatus

    earlier_success = (
        SyncRun.objects.filter(source_id=run.source_id, status=SyncStatus.SUCCEEDED, created_at__lte=run.created_at)
        .exclude(pk=run.pk)
        .order_by("-created_at")
        .first()
    )
    if earlier_success is None:
        return []
    # This run and any that failed since the last success: their new invoices are news too.
    runs_since = SyncRun.objects.filter(
        source_id=run.source_id, created_at__gt=earlier_success.created_at, created_at__lte=run.created_at
    ).values("pk")
    invoices = (
        Invoice.objects.filter(
            source_id=run.source_id, first_seen_run__in=runs_since, deleted_at__isnull=True, organization__isnull=False
        )
        .exclude(status__iexact="void")
        .exclude(status__iexact="draft")
        .select_related("organization")
    )
    return [
        notification_fire(
            NotificationKind.NEW_INVOICE,
            organization=inv.organization,
            invoice=inv,
            context={"invoice_id": inv.pk, "sync_run_id": run.pk},
            event_key=f"new_invoice:{inv.pk}",
        )
        for inv in invoices
    ]


def sync_alert_notify(*, alert_id: int) -> Notification | None:
    """Turn one SyncAlert into a Sync Failed / Sync Not Running notification, exactly once."""
    from integrations.models import SyncAlert, SyncAlertKind

    with transaction.atomic():
        claimed = SyncAlert.objects.filter(pk=alert_id, handled_at__isnull=True).update(handled_at=timezone.now())
        if not claimed:
            return None
        alert = SyncAlert.objects.select_related("source").get(pk=alert_id)
        kind = (
            NotificationKind.SYNC_FAILED
            if alert.kind == SyncAlertKind.SYNC_FAILED
            else NotificationKind.SYNC_NOT_RUNNING
        )
        return notification_fire(
            kind,
            context={
                "reason": alert.reason,
                "source": str(alert.source),
                "sync_run_id": alert.sync_run_id,
                "alert_id": alert.pk,
            },
            event_key=f"sync_alert:{alert.pk}",
        )


def sync_alerts_process() -> int:
    from integrations.models import SyncAlert

    count = 0
    for alert_id in SyncAlert.objects.filter(handled_at__isnull=True).order_by("pk").values_list("pk", flat=True):
        if sync_alert_notify(alert_id=alert_id) is not None:
            count += 1
    return count


def invoices_past_due_notify(*, now=None) -> list[Notification]:
    """Daily: Invoice Past Due once per invoice and due stage (1, 15, 30... days past due).

    A stage fires only if the invoice reached it within the catch-up window, so connecting
    BMS doesn't fire for years of old unpaid invoices."""
    from billing.models import Invoice

    now = now or timezone.now()
    stages = sorted(settings.NOTIFICATIONS_PAST_DUE_STAGES)
    if not stages:
        return []
    catch_up = settings.NOTIFICATIONS_PAST_DUE_CATCH_UP_DAYS
    invoices = (
        Invoice.objects.filter(
            deleted_at__isnull=True,
            organization__isnull=False,
            balance_due__gt=0,
            due_date__lte=now - timedelta(days=stages[0]),
            due_date__gt=now - timedelta(days=stages[-1] + catch_up + 1),
        )
        .exclude(status__iexact="void")
        .exclude(status__iexact="draft")
        .select_related("organization")
    )
    fired = []
    for invoice in invoices:
        days = (now - invoice.due_date).days
        reached = [s for s in stages if s <= days]
        if not reached or days - reached[-1] > catch_up:
            continue
        stage = reached[-1]
        fired.append(
            notification_fire(
                NotificationKind.INVOICE_PAST_DUE,
                organization=invoice.organization,
                invoice=invoice,
                context={
                    "invoice_id": invoice.pk,
                    "stage_days": stage,
                    "days_past_due": days,
                    "amount": str(invoice.balance_due),
                },
                event_key=f"past_due:{invoice.pk}:{stage}",
            )
        )
    return fired


def comment_posted_notify(*, comment) -> Notification:
    invoice = comment.invoice
    author = comment.author
    return notification_fire(
        NotificationKind.CLIENT_COMMENTED,
        organization=invoice.organization,
        invoice=invoice,
        context={
            "invoice_id": invoice.pk,
            "author_name": getattr(comment, "author_name", "") or getattr(author, "full_name", "") or "",
            "author_email": getattr(author, "email", "") or "",
            "comment": comment.body,
        },
        event_key=f"invoice_comment:{comment.pk}" if getattr(comment, "pk", None) else None,
    )


def access_requested_notify(*, access_request) -> Notification:
    return notification_fire(
        NotificationKind.PORTAL_ACCESS_REQUESTED,
        organization=access_request.organization,
        context={
            "requester_name": access_request.full_name,
            "requester_email": access_request.email,
            "message": access_request.message,
            "company": getattr(access_request, "company", ""),
        },
        event_key=f"portal_access:{access_request.pk}" if getattr(access_request, "pk", None) else None,
    )


__all__ = ["SPECS", "notification_fire"]


# --- Service Ticket Configuration -----------------------------------------------------------------

TICKET_FIELDS = (
    "queue_id",
    "priority_id",
    "issue_type_id",
    "sub_issue_type_id",
    "status_id",
    "ticket_type_id",
    "source_id",
    "internal_account_id",
)


def ticket_config_validate(*, installation, fields: dict[str, int | None]) -> tuple[dict[str, str], dict[str, str]]:
    """Check the chosen ids against BMS, fresh (not cached). Returns (errors by field, names by field).

    Raises selectors.LookupUnavailable when BMS cannot be asked."""
    lookups = selectors.ticket_lookups(installation, fresh=True)
    errors: dict[str, str] = {}
    names: dict[str, str] = {}
    checked = (
        ("queue_id", "queues", "Destination queue", True),
        ("priority_id", "priorities", "priority", True),
        ("status_id", "statuses", "status for new tickets", True),
        ("issue_type_id", "issue_types", "issue type", True),
        ("ticket_type_id", "ticket_types", "ticket type", lookups.ticket_types_from_psa),
        ("source_id", "sources", "source", lookups.sources_from_psa),
    )
    for field, attr, label, verifiable in checked:
        value = fields.get(field)
        if value is None:
            continue
        options = lookups.names(attr)
        if value in options:
            names[field] = options[value]
        elif verifiable:
            errors[field] = f"BMS has no active {label} with id {value}."
        else:
            names[field] = f"id {value}"  # BMS has no lookup for it: taken as entered
    sub_issue = fields.get("sub_issue_type_id")
    if sub_issue is not None:
        issue = fields.get("issue_type_id")
        if issue is None:
            errors["sub_issue_type_id"] = "Choose an Issue Type first: a sub-issue type belongs to one."
        else:
            subs = {o.id: o.name for o in selectors.sub_issue_types(installation, issue, fresh=True)}
            if sub_issue in subs:
                names["sub_issue_type_id"] = subs[sub_issue]
            else:
                errors["sub_issue_type_id"] = f"BMS has no sub-issue type {sub_issue} under the chosen Issue Type."
    account = fields.get("internal_account_id")
    if account is not None:
        try:
            problem = installation.account_problem(account)
        except IntegrationError as exc:
            raise selectors.LookupUnavailable(f"Could not check the account in {installation.name}: {exc}") from exc
        if problem:
            errors["internal_account_id"] = problem
    return errors, names
