"""The portal keeps up with what billing and the sync change:

- cached client invoice lists (portal.list_cache) go stale when invoices or organizations
  change;
- after each successful sync, client contacts BMS no longer backs lose access.
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing.models import Invoice
from integrations.signals import sync_succeeded, synced_records_changed
from organizations.models import Organization
from payments.signals import autopay_changed, payment_changed
from portal import list_cache
from portal.services import client_access_revoke_stale


@receiver(synced_records_changed, dispatch_uid="portal.list_cache.sync")
def _on_synced_records_changed(sender, source_id, **kwargs):
    list_cache.invalidate()


@receiver(post_save, sender=Invoice, dispatch_uid="portal.list_cache.invoice_saved")
@receiver(post_delete, sender=Invoice, dispatch_uid="portal.list_cache.invoice_deleted")
@receiver(post_save, sender=Organization, dispatch_uid="portal.list_cache.organization_saved")
@receiver(post_delete, sender=Organization, dispatch_uid="portal.list_cache.organization_deleted")
def _on_record_saved(sender, **kwargs):
    # Robust: a cache that cannot be told (Redis down) must not fail the save that committed.
    transaction.on_commit(list_cache.invalidate, robust=True)


@receiver(payment_changed, dispatch_uid="portal.list_cache.payment_changed")
@receiver(autopay_changed, dispatch_uid="portal.list_cache.autopay_changed")
def _on_payments_changed(sender, **kwargs):
    # The lists show "Payment processing", balances less portal payments, and which invoices
    # autopay pays by which rule (both signals are sent after commit).
    list_cache.invalidate()


@receiver(sync_succeeded, dispatch_uid="portal.client_access_revoke_stale")
def _on_sync_succeeded(sender, run, **kwargs):
    client_access_revoke_stale(source_id=run.source_id)
