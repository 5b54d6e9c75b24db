"""Rendering: how a notification reads. Subjects, e-mail bodies, the ticket's title and details,
the preview on Send test notification, and the sample facts a test notification carries.

Everything here is a pure read: nothing is saved or sent.
- A subject (and so a ticket's title) is one line: every run of whitespace, line breaks
  included, folds into one space, so a name with a line break never breaks a mail header.
- The ticket's details end with the delivery's signed marker (``notifications.markers``),
  which is how the ticket is found again; nothing above it (client comments, names,
  messages) can read as a marker.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from billing.models import Invoice
from integrations.locale import tenant_locale
from notifications import markers, selectors
from notifications.models import Notification
from notifications.ticket_config import needs_own_account, own_account
from notifications.types import Audience, NotificationKind, spec_for


class _Facts(dict):
    """A missing fact reads as empty, so a subject never fails on a placeholder."""

    def __missing__(self, key: str) -> str:
        return ""


def _money(value: Any, currency: str) -> str:
    """As the tenant's culture writes it (the same as the pages), in ``currency`` ("": the tenant's)."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return str(value or "")
    return tenant_locale().money(amount, currency)


def _day(value) -> str:
    return tenant_locale().day(timezone.localtime(value)) if value else ""


def _absolute(path: str) -> str:
    return settings.PORTAL_BASE_URL.rstrip("/") + path


def render_context(notification: Notification) -> dict[str, Any]:
    """The template context: the flat facts (also as ``facts``) and the objects behind them."""
    spec = spec_for(notification.kind)
    c = notification.context or {}
    invoice = notification.invoice
    org = notification.organization
    currency = c.get("currency") or (invoice.currency if invoice is not None else "")
    facts = _Facts(
        kind=spec.label,
        msp_name=settings.MSP_NAME,
        organization=str(org) if org else settings.MSP_NAME,
        amount=_money(c["amount"], currency) if c.get("amount") not in (None, "") else "",
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
            invoice_total=_money(invoice.total, currency),
            balance_due=_money(invoice.balance_due, currency),
            due_date=_day(invoice.due_date) or "on receipt",
            invoice_date=_day(invoice.invoice_date),
            invoice_url=_absolute(reverse("client:invoice", args=[invoice.pk]) + "#comments"),
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
    subject = one_line(spec_for(notification.kind).subject.format_map(ctx["facts"]))
    return f"[Test] {subject}" if notification.is_test else subject


def one_line(text: str) -> str:
    """``text`` folded onto one line: whitespace runs (line breaks too) become one space and
    other control characters go, as a mail header must be."""
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return " ".join(text.split())


def email_bodies(notification: Notification, ctx: dict | None = None) -> tuple[str, str]:
    """(text, HTML) of the e-mail."""
    ctx = ctx or render_context(notification)
    kind = spec_for(notification.kind).kind.value
    text = render_to_string(f"notifications/email/{kind}.txt", ctx)
    html = render_to_string(f"notifications/email/{kind}.html", ctx)
    return text, html


def ticket_title(notification: Notification, ctx: dict | None = None) -> str:
    return email_subject(notification, ctx)[:250]


def ticket_details(notification: Notification, delivery_key: str, ctx: dict | None = None) -> str:
    """The ticket's details, ending with the delivery's marker (the only marker in them)."""
    ctx = ctx or render_context(notification)
    body = markers.neutralize(render_to_string("notifications/ticket_details.txt", ctx).strip())
    return f"{body}\n\n{markers.ticket_marker(delivery_key)}"


# --- Send test notification -----------------------------------------------------------------------


def sample_facts(kind: str, organization) -> tuple[dict[str, Any], Invoice | None]:
    """(context, invoice) a test notification of this type carries: the organization's latest
    unpaid invoice (else any) when the type concerns one, and plausible facts for the rest."""
    spec = spec_for(kind)
    invoice = None
    now = timezone.now()
    if spec.concerns_invoice and organization is not None:
        invoices = Invoice.objects.filter(organization=organization, deleted_at__isnull=True)
        unpaid = invoices.filter(balance_due__gt=0)
        if spec.kind == NotificationKind.INVOICE_PAST_DUE:
            # The facts must agree: a past-due sample is an invoice that is past due, when there is one.
            invoice = unpaid.filter(due_date__lt=now).order_by("-due_date").first()
        invoice = invoice or unpaid.order_by("-invoice_date").first() or invoices.first()
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
        # Counted from the invoice's due date as the daily check counts it; none past due reads 0.
        due = invoice.due_date if invoice is not None else None
        context["days_past_due"] = max((now - due).days, 0) if due is not None else 15
    if kind == NotificationKind.CLIENT_COMMENTED:
        context.update(
            author_name="Test Contact", author_email="contact@example.com", comment="This is a test comment."
        )
    if kind == NotificationKind.INVOICE_COMMENT_REPLY:
        context.update(author_name="Test Staff", comment="This is a test reply.")
    if kind == NotificationKind.PORTAL_ACCESS_REQUESTED:
        context.update(
            requester_name="Test Requester", requester_email="requester@example.com", message="This is a test request."
        )
    if spec.audience == Audience.INTERNAL:
        context["source"] = "Kaseya BMS"
    return context, invoice


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
    ticket_account: str = ""  # the PSA account the ticket would be opened on
    sample_note: str = ""  # where the sample facts fall short of the type (no past-due invoice)


def _ticket_account_preview(notification: Notification, installation) -> tuple[str, str]:
    """(why no ticket would be created, or ""; the account it would be opened on) as sending would."""
    org = notification.organization
    if not needs_own_account(notification):
        if org is not None and org.bms_id:
            return "", f"{org} (BMS account {org.bms_id})"
        no_account = "The notification concerns no BMS account: no ticket can be created."
        return f"{no_account} Choose an organization synced from BMS.", ""
    own = own_account(selectors.notification_settings_get(), installation)
    if own.account_id is None:
        return f"No ticket will be created: {own.problem}", ""
    whence = "the BMS API user's account" if own.source == "psa" else "as set in Service Ticket Configuration"
    return "", f"The MSP's own BMS account {own.account_id} ({whence})"


def notification_preview(kind: str, *, organization=None) -> Preview:
    """What a test notification for this type and organization would send (nothing is saved)."""
    context, invoice = sample_facts(kind, organization)
    notification = Notification(kind=kind, organization=organization, invoice=invoice, context=context, is_test=True)
    ctx = render_context(notification)
    text, html = email_bodies(notification, ctx)
    found = selectors.recipients_for(notification)
    pref = selectors.preference_for(kind)
    spec = spec_for(kind)
    ticket_account = ""
    if not pref.ticket_enabled:
        ticket_note = f"Service Ticket is turned off for {spec.label}: no ticket will be created."
    elif (installation := selectors.ticket_installation()) is None:
        ticket_note = "BMS is not connected: no ticket will be created."
    else:
        ticket_note, ticket_account = _ticket_account_preview(notification, installation)
    attachment = ""
    if spec.concerns_invoice:
        attachment = (
            f"The PDF of invoice {notification.invoice.number} is attached."
            if notification.invoice
            else "No invoice to attach: the organization has none synced."
        )
    sample_note = ""
    if spec.kind == NotificationKind.INVOICE_PAST_DUE and invoice is not None and not invoice.is_past_due:
        due = f"due {invoice.due_date:%Y-%m-%d}" if invoice.due_date else "with no due date"
        sample_note = (
            f"{organization} has no past-due invoice: the sample uses invoice {invoice.number} ({due}), "
            "so it reads 0 days past due."
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
        ticket_account=ticket_account,
        attachment_note=attachment,
        sample_note=sample_note,
    )
