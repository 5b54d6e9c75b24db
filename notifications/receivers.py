"""Other apps' events become notifications. A failure here is logged, never raised into the
sender (a client's comment must not fail because a notification could not be recorded)."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from billing.signals import invoice_comment_posted
from integrations.models import SyncAlert
from integrations.signals import sync_succeeded
from notifications import services
from portal.signals import portal_access_requested

logger = logging.getLogger(__name__)


@receiver(sync_succeeded, dispatch_uid="notifications.new_invoices")
def on_sync_succeeded(sender, run, **kwargs):
    if not settings.NOTIFICATIONS_LISTEN_TO_SYNC:
        return
    try:
        services.new_invoices_notify(run=run)
    except Exception:
        logger.exception("New Invoice notifications for sync run %s failed", run.pk)


@receiver(post_save, sender=SyncAlert, dispatch_uid="notifications.sync_alert")
def on_sync_alert(sender, instance, created, **kwargs):
    if not created or instance.handled_at is not None or not settings.NOTIFICATIONS_LISTEN_TO_SYNC:
        return

    def notify(alert_id=instance.pk):
        try:
            services.sync_alert_notify(alert_id=alert_id)
        except Exception:  # the sweep tries again
            logger.exception("Notification for sync alert %s failed", alert_id)

    transaction.on_commit(notify)


@receiver(invoice_comment_posted, dispatch_uid="notifications.invoice_comment")
def on_invoice_comment(sender, comment, **kwargs):
    try:
        services.comment_posted_notify(comment=comment)
    except Exception:
        logger.exception("Client Commented on Invoice notification failed")


@receiver(portal_access_requested, dispatch_uid="notifications.portal_access")
def on_portal_access_requested(sender, access_request, **kwargs):
    try:
        services.access_requested_notify(access_request=access_request)
    except Exception:
        logger.exception("Portal Access Requested notification failed")
