"""Keep client-portal access in step with BMS: after each successful sync, a client
contact whose BMS contact is gone, inactive or moved to another organization (or whose
organization was deleted) can no longer sign in."""

from django.db.models import Exists, OuterRef
from django.dispatch import receiver

from accounts.models import Role, User
from accounts.services import audit_record
from integrations.signals import sync_succeeded
from organizations.models import Contact


def client_access_revoke_stale(*, source_id: int) -> list[User]:
    live_contact = Contact.objects.filter(
        source_id=source_id,
        organization_id=OuterRef("organization_id"),
        email__iexact=OuterRef("email"),
        deleted_at__isnull=True,
        is_active=True,
    )
    stale = list(
        User.objects.filter(role=Role.CLIENT_CONTACT, is_active=True, organization__source_id=source_id)
        .annotate(has_contact=Exists(live_contact))
        .exclude(has_contact=True, organization__deleted_at__isnull=True)
    )
    for user in stale:
        user.is_active = False
        user.save(update_fields=["is_active"])
        audit_record(
            actor=None,
            action="client.access_revoked",
            target=user.email,
            summary="Client portal access revoked: the BMS contact or organization is gone or inactive",
        )
    return stale


@receiver(sync_succeeded, dispatch_uid="accounts.client_access_revoke_stale")
def _on_sync_succeeded(sender, run, **kwargs):
    client_access_revoke_stale(source_id=run.source_id)
