"""Event adapters: other apps' events become notifications. Each event has an ``event_key``,
so it notifies once however often it is seen (a replayed signal, the sweep catching up).

Payments: Payment Successful / Failed once per payment (``payments.signals.payment_changed``,
sent after the commit), Payment Scheduled once per autopay charge scheduled, Payment Method
Changed and Autopay Changed once per audit entry that records such a change (every method and
rule change is audited, whichever page or service made it), Autopay Changed once per pause of
a rule after failed charges (found by the daily summary), and the internal Autopay Summary
once a day.

The signal receivers log a failure and never raise it into the sender: a client's comment
must not fail because a notification could not be recorded. Sync events are heard only with
NOTIFICATIONS_LISTEN_TO_SYNC.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from accounts.models import AuditEvent
from billing.models import Invoice
from billing.signals import invoice_comment_posted
from integrations.models import SyncAlert, SyncAlertKind, SyncRun, SyncStatus
from integrations.signals import sync_succeeded
from notifications.firing import notification_fire
from notifications.models import Notification
from notifications.types import NotificationKind
from organizations.models import Organization
from payments.models import (
    AutopayRule,
    Initiator,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)
from payments.signals import payment_changed
from portal.signals import portal_access_requested

logger = logging.getLogger(__name__)


# --- signal receivers -----------------------------------------------------------------------------


@receiver(sync_succeeded, dispatch_uid="notifications.new_invoices")
def on_sync_succeeded(sender, run, **kwargs):
    if not settings.NOTIFICATIONS_LISTEN_TO_SYNC:
        return
    try:
        new_invoices_notify(run=run)
    except Exception:
        logger.exception("New Invoice notifications for sync run %s failed", run.pk)


@receiver(post_save, sender=SyncAlert, dispatch_uid="notifications.sync_alert")
def on_sync_alert(sender, instance, created, **kwargs):
    if not created or instance.handled_at is not None or not settings.NOTIFICATIONS_LISTEN_TO_SYNC:
        return

    def notify(alert_id=instance.pk):
        try:
            sync_alert_notify(alert_id=alert_id)
        except Exception:  # the sweep tries again
            logger.exception("Notification for sync alert %s failed", alert_id)

    transaction.on_commit(notify)


@receiver(invoice_comment_posted, dispatch_uid="notifications.invoice_comment")
def on_invoice_comment(sender, comment, **kwargs):
    try:
        comment_posted_notify(comment=comment)
    except Exception:
        logger.exception("Notification for invoice comment %s failed", getattr(comment, "pk", None))


@receiver(portal_access_requested, dispatch_uid="notifications.portal_access")
def on_portal_access_requested(sender, access_request, **kwargs):
    try:
        access_requested_notify(access_request=access_request)
    except Exception:
        logger.exception("Portal Access Requested notification failed")


@receiver(payment_changed, dispatch_uid="notifications.payment_changed")
def on_payment_changed(sender, payment, previous_status=None, **kwargs):
    try:
        payment_outcome_notify(payment=payment, previous_status=previous_status)
    except Exception:  # the nightly settle sends the signal again on a later change only
        logger.exception("Payment notification for payment %s failed", payment.pk)


@receiver(post_save, sender=ScheduledCharge, dispatch_uid="notifications.payment_scheduled")
def on_charge_scheduled(sender, instance, created, **kwargs):
    if not created:
        return

    def notify(charge_id=instance.pk):
        try:
            payment_scheduled_notify(charge_id=charge_id)
        except Exception:
            logger.exception("Payment Scheduled notification for autopay charge %s failed", charge_id)

    transaction.on_commit(notify)


@receiver(post_save, sender=AuditEvent, dispatch_uid="notifications.payments_audit")
def on_audit_event(sender, instance, created, **kwargs):
    if not created or not instance.action.startswith(PAYMENTS_AUDIT_PREFIXES):
        return

    def notify(event_id=instance.pk):
        try:
            audited_change_notify(event_id=event_id)
        except Exception:
            logger.exception("Notification for audit entry %s failed", event_id)

    transaction.on_commit(notify)


# --- the notifications they fire ------------------------------------------------------------------


def new_invoices_notify(*, run: SyncRun) -> list[Notification]:
    """After a successful sync: New Invoice for each invoice this run stored first, except on a
    source's first successful sync (which pulls the whole history)."""
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


def sync_alerts_catch_up() -> int:
    """Beat (with the sweep): the sync alerts whose on_commit notification did not run."""
    if not settings.NOTIFICATIONS_LISTEN_TO_SYNC:
        return 0
    count = 0
    for alert_id in SyncAlert.objects.filter(handled_at__isnull=True).order_by("pk").values_list("pk", flat=True):
        if sync_alert_notify(alert_id=alert_id) is not None:
            count += 1
    return count


def invoices_past_due_notify(*, now=None) -> list[Notification]:
    """Daily: Invoice Past Due once per invoice and due stage (1, 15, 30... days past due).

    A stage fires only if the invoice reached it within the catch-up window, so connecting
    BMS doesn't fire for years of old unpaid invoices."""
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
    """Client Commented on Invoice (to staff) or, for a staff reply, Invoice Comment Reply (to
    the client): once per comment."""
    invoice = comment.invoice
    author = comment.author
    return notification_fire(
        NotificationKind.INVOICE_COMMENT_REPLY
        if getattr(comment, "is_staff_reply", False)
        else NotificationKind.CLIENT_COMMENTED,
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


# --- payments -------------------------------------------------------------------------------------

# Audit actions that notify: a saved method added, made default or removed; a rule changed.
METHOD_AUDIT_PREFIX = "payment_method."
AUTOPAY_RULE_AUDIT_PREFIX = "autopay.rule_"
PAYMENTS_AUDIT_PREFIXES = (METHOD_AUDIT_PREFIX, AUTOPAY_RULE_AUDIT_PREFIX)


def _payment_facts(payment: Payment) -> tuple[dict, Invoice | None]:
    allocations = list(payment.allocations.select_related("invoice").order_by("invoice__number"))
    numbers = [a.invoice.number for a in allocations]
    context = {
        "amount": str(payment.total),
        "currency": payment.currency,
        "payment_id": payment.pk,
        "invoice_numbers": numbers,
        "method": payment.method.label,
        "initiated_by": payment.initiated_by,
    }
    return context, (allocations[0].invoice if allocations else None)


def payment_outcome_notify(*, payment: Payment, previous_status: str | None) -> Notification | None:
    """Payment Successful when a payment succeeds, Payment Failed when it fails: once each."""
    if payment.status == previous_status:
        return None
    if payment.status == PaymentStatus.SUCCEEDED:
        kind, key = NotificationKind.PAYMENT_SUCCESSFUL, f"payment_successful:{payment.pk}"
    elif payment.status == PaymentStatus.FAILED:
        kind, key = NotificationKind.PAYMENT_FAILED, f"payment_failed:{payment.pk}"
    else:
        return None
    context, invoice = _payment_facts(payment)
    if kind == NotificationKind.PAYMENT_FAILED:
        context["reason"] = payment.failure_reason or "The payment did not go through."
    return notification_fire(kind, organization=payment.organization, invoice=invoice, context=context, event_key=key)


def payment_scheduled_notify(*, charge_id: int) -> Notification | None:
    """Payment Scheduled once per autopay charge (its invoice and schedule slot)."""
    charge = (
        ScheduledCharge.objects.select_related("invoice", "organization", "rule__method").filter(pk=charge_id).first()
    )
    if charge is None:
        return None
    context = {
        "amount": str(charge.invoice.balance_due),
        "charge_on": charge.charge_on.isoformat(),
        "reason": f"Autopay charges it on {charge.charge_on:%Y-%m-%d}"
        + (" once approved" if charge.status == ScheduledChargeStatus.AWAITING_APPROVAL else "")
        + (f" with {charge.rule.method.label}." if charge.rule_id else "."),
        "scheduled_charge_id": charge.pk,
    }
    return notification_fire(
        NotificationKind.PAYMENT_SCHEDULED,
        organization=charge.organization,
        invoice=charge.invoice,
        context=context,
        event_key=f"payment_scheduled:{charge.pk}",
    )


def _audited_organization(event: AuditEvent):
    details = event.details or {}
    if details.get("organization_id"):
        return Organization.objects.filter(pk=details["organization_id"]).first()
    if details.get("rule_id"):
        rule = AutopayRule.objects.select_related("organization").filter(pk=details["rule_id"]).first()
        return rule.organization if rule else None
    if details.get("method_id"):
        method = PaymentMethod.objects.select_related("organization").filter(pk=details["method_id"]).first()
        return method.organization if method else None
    return None


def audited_change_notify(*, event_id: int) -> Notification | None:
    """Payment Method Changed or Autopay Changed for one audit entry, once."""
    event = AuditEvent.objects.filter(pk=event_id).first()
    if event is None or not event.action.startswith(PAYMENTS_AUDIT_PREFIXES):
        return None
    organization = _audited_organization(event)
    if organization is None:
        return None
    kind = (
        NotificationKind.PAYMENT_METHOD_CHANGED
        if event.action.startswith(METHOD_AUDIT_PREFIX)
        else NotificationKind.AUTOPAY_CHANGED
    )
    who = f" by {event.actor_email}" if event.actor_email else ""
    return notification_fire(
        kind,
        organization=organization,
        context={"reason": f"{event.summary}{who}.", "audit_event_id": event.pk},
        actor=event.actor,
        event_key=f"audit:{event.pk}",
    )


def autopay_pauses_notify(*, since) -> list[Notification]:
    """Autopay Changed for each rule paused after failed charges since ``since``, once per pause."""
    rules = AutopayRule.objects.filter(paused_at__gte=since).select_related("organization")
    return [
        notification_fire(
            NotificationKind.AUTOPAY_CHANGED,
            organization=rule.organization,
            context={"reason": rule.pause_reason or "An autopay rule was paused.", "rule_id": rule.pk},
            event_key=f"autopay_paused:{rule.pk}:{rule.paused_at.isoformat()}",
        )
        for rule in rules
    ]


def autopay_summary_notify(*, now=None) -> Notification | None:
    """The internal daily Autopay Summary (once per day): what autopay charged and failed in
    the last 24 hours, what waits for approval, and the rules that cannot charge. Nothing when
    no organization has an autopay rule. Tells clients of rules paused since yesterday too."""
    now = now or timezone.now()
    since = now - timedelta(days=1)
    if not AutopayRule.objects.exists():
        return None
    autopay = Payment.objects.filter(initiated_by=Initiator.AUTOPAY)
    succeeded = list(autopay.filter(succeeded_at__gte=since).values_list("amount", "surcharge"))
    failed = autopay.filter(failed_at__gte=since).count()
    awaiting = ScheduledCharge.objects.filter(status=ScheduledChargeStatus.AWAITING_APPROVAL).count()
    due_today = ScheduledCharge.objects.filter(
        status__in=[ScheduledChargeStatus.SCHEDULED, ScheduledChargeStatus.APPROVED],
        charge_on__lte=timezone.localdate(now),
    ).count()
    paused = AutopayRule.objects.filter(paused_at__isnull=False, enabled=True).count()
    with_errors = AutopayRule.objects.filter(enabled=True, paused_at__isnull=True).exclude(error="").count()
    total = sum((amount + surcharge for amount, surcharge in succeeded), start=Decimal("0"))
    context = {
        "day": timezone.localdate(now).isoformat(),
        "charged_count": len(succeeded),
        "charged_total": str(total),
        "failed_count": failed,
        "awaiting_approval": awaiting,
        "due_today": due_today,
        "paused_rules": paused,
        "rules_with_errors": with_errors,
        "reason": (
            f"{len(succeeded)} charged ({total:,.2f}), {failed} failed, {awaiting} awaiting approval, "
            f"{paused} rule{'s' if paused != 1 else ''} paused, {with_errors} with errors."
        ),
    }
    autopay_pauses_notify(since=since)
    return notification_fire(
        NotificationKind.AUTOPAY_SUMMARY, context=context, event_key=f"autopay_summary:{context['day']}"
    )
