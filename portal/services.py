"""Portal writes: access requests (made by anyone, closed by staff) and client access
revoked, by staff or when BMS no longer backs it. Invitations have their own module
(portal.invitations); inviting a revoked contact again is how access is given back.

Invariants: at most one pending access request per e-mail, and the requester's answer never
tells whether an address is known; at most ACCESS_REQUESTS_PER_ADDRESS_PER_HOUR requests per
client address (core.client_address: behind a trusted proxy each client has its own count;
counted in the database, so the limit holds while Redis is down); a client contact whose
BMS contact is gone, inactive or moved (or whose organization was deleted) cannot sign in
after the next successful sync; a contact whose access staff revoke is signed out at once
(every session, database and Redis: accounts.staff.user_sessions_end), cannot sign in, and
every invitation link already sent stops working (the account's state changed).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.login_throttle import clear_failures
from accounts.models import Role, User
from accounts.services import audit_record
from accounts.staff import user_sessions_end
from accounts.throttle import address_bucket, attempt_record, throttle_key
from organizations.models import Contact
from portal import signals
from portal.models import AccessRequestStatus, PortalAccessRequest, PortalAccessRevocation, RevocationReason

# Access requests: at most this many per client address per hour; one pending request per e-mail.
ACCESS_REQUESTS_PER_ADDRESS_PER_HOUR = 5


def access_request_create(
    *, email: str, full_name: str, company: str = "", message: str = "", client_address: str = ""
) -> PortalAccessRequest | None:
    """Record a request for portal access and announce it after commit.

    Returns None when nothing new was stored (a pending request for the e-mail exists);
    the requester sees the same answer either way, so the form never tells whether an
    address is known. Raises ValidationError when the client address sent too many.
    """
    email = email.strip().lower()
    if client_address:
        key = throttle_key("access-request-address", address_bucket(client_address))
        if attempt_record(key=key, window_seconds=60 * 60) > ACCESS_REQUESTS_PER_ADDRESS_PER_HOUR:
            raise ValidationError(_("Too many access requests from your network. Try again in an hour."))
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


def client_access_revoke_stale(*, source_id: int) -> list[User]:
    """Deactivate the source's client contacts that BMS no longer backs (after a sync)."""
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
        PortalAccessRevocation.objects.create(user=user, reason=RevocationReason.BMS)
        audit_record(
            actor=None,
            action="client.access_revoked",
            target=user.email,
            summary="Client portal access revoked: the BMS contact or organization is gone or inactive",
        )
    return stale


class AccessChangeRefused(Exception):
    """The change is not allowed; the message says why, for staff."""


@transaction.atomic
def client_access_revoke(*, user: User, actor: User) -> int:
    """Take a client contact's portal access away: the account is deactivated and its
    password unset (inviting again restores access with a new password chosen from the
    link), and every session ends now. Returns the number of sessions ended; revoking an
    account that has no access changes nothing and returns 0."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_client_contact:
        raise AccessChangeRefused(
            _("%(email)s is a staff account: manage it on the Users page.") % {"email": user.email}
        )
    if not user.is_active:
        return 0
    user.is_active = False
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    PortalAccessRevocation.objects.create(user=user, revoked_by=actor, reason=RevocationReason.STAFF)
    ended = user_sessions_end(user=user)
    audit_record(
        actor=actor,
        action="portal.access.revoked",
        target=user.email,
        summary=(
            f"Revoked the client-portal access of {user.email} ({user.organization}); "
            f"{ended} session{'s' if ended != 1 else ''} ended"
        ),
        organization_id=user.organization_id,
        sessions_ended=ended,
    )
    return ended


def client_password_change(*, user: User, password: str, client_address: str) -> None:
    """A signed-in client contact chose a new password (validated by the form). Their other
    sessions end at their next request (Django checks each session's password hash); the
    caller keeps the current one (update_session_auth_hash)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    clear_failures(user.email, client_address)  # as a successful sign-in does
    audit_record(
        actor=user,
        action="portal.password.changed",
        target=user.email,
        summary=f"{user.email} changed their client-portal password",
        organization_id=user.organization_id,
        address=client_address,
    )
