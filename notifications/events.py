"""Event adapters: other apps' events become notifications. Each event has an ``event_key``,
so it notifies once however often it is seen (a replayed signal, the sweep catching up).

The signal receivers log a failure and never raise it into the sender: a client's comment
must not fail because a notification could not be recorded. Sync events are heard only with
NOTIFICATIONS_LISTEN_TO_SYNC.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from billing.models import Invoice
from billing.signals import invoice_comment_posted
from integrations.models import SyncAlert, SyncAlertKind, SyncRun, SyncStatus
from integrations.signals import sync_succeeded
from notifications.firing import notification_fire
from notifications.models import Notification
from notifications.types import NotificationKind
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
        logger.exception("Client Commented on Invoice notification failed")


@receiver(portal_access_requested, dispatch_uid="notifications.portal_access")
def on_portal_access_requested(sender, access_request, **kwargs):
    try:
        access_requested_notify(access_request=access_request)
    except Exception:
        logger.exception("Portal Access Requested notification failed")


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
