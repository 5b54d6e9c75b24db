"""Cached client invoice lists go stale when invoices or organizations change."""

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from billing import list_cache
from billing.models import Invoice
from integrations.signals import synced_records_changed
from organizations.models import Organization


@receiver(synced_records_changed, dispatch_uid="billing.list_cache.sync")
def _on_synced_records_changed(sender, source_id, **kwargs):
    list_cache.invalidate()


@receiver(post_save, sender=Invoice, dispatch_uid="billing.list_cache.invoice_saved")
@receiver(post_delete, sender=Invoice, dispatch_uid="billing.list_cache.invoice_deleted")
@receiver(post_save, sender=Organization, dispatch_uid="billing.list_cache.organization_saved")
@receiver(post_delete, sender=Organization, dispatch_uid="billing.list_cache.organization_deleted")
def _on_record_saved(sender, **kwargs):
    # Robust: a cache that cannot be told (Redis down) must not fail the save that committed.
    transaction.on_commit(list_cache.invalidate, robust=True)
