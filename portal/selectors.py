"""Portal reads. Everything a client contact sees is scoped to their organization: another
organization's invoice is a 404 whatever id is tried."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.models import User
from billing.models import Invoice
from billing.selectors import invoice_list
from organizations.models import Contact, Organization
from portal.invitations import INVITATION_MAX_AGE
from portal.models import AccessRequestStatus, PortalAccessRequest, PortalAccessRevocation, PortalInvitation

# --- the client's invoices ---------------------------------------------------------------------


def client_invoice_list(*, organization_id: int | None, search: str = "", state: str = "") -> QuerySet[Invoice]:
    """The organization's invoices, open ones first, newest first within each group."""
    if organization_id is None:
        return Invoice.objects.none()
    invoices = invoice_list(search=search, state=state, organization_id=organization_id)
    return invoices.select_related(None).order_by("-has_balance", "-invoice_date", "-id")


def client_invoice_get(*, organization_id: int | None, pk: int) -> Invoice:
    """One of the organization's invoices, or Http404 (never another organization's)."""
    if organization_id is None:
        raise Http404("No such invoice.")
    return get_object_or_404(
        Invoice.objects.select_related("organization", "source__integration"),
        pk=pk,
        organization_id=organization_id,
        deleted_at__isnull=True,
    )


# --- staff: who has portal access ----------------------------------------------------------------


def current_organizations() -> QuerySet[Organization]:
    return Organization.objects.filter(deleted_at__isnull=True)


def client_access_contacts(*, organization: Organization | None = None, search: str = "") -> QuerySet[Contact]:
    """The synced contacts of current organizations, by organization, points of contact first."""
    contacts = Contact.objects.select_related("organization").filter(
        deleted_at__isnull=True, organization__isnull=False, organization__deleted_at__isnull=True
    )
    if organization:
        contacts = contacts.filter(organization=organization)
    if search:
        contacts = contacts.filter(
            Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
            | Q(email__icontains=search)
            | Q(organization__name__icontains=search)
        )
    return contacts.order_by("organization__name", "-is_poc", "last_name", "first_name", "id")


class PortalState:
    """A contact's client-portal access, as the Client portal access page shows it."""

    NOT_INVITED = "not_invited"
    INVITED = "invited"  # a link was sent, no password chosen yet
    HAS_ACCESS = "has_access"
    REVOKED = "revoked"
    STAFF = "staff"  # the address is a staff account's
    OTHER_ORGANIZATION = "other_organization"  # the account belongs to another organization


def contacts_portal_status(contacts: list[Contact]) -> None:
    """Annotate each contact with .portal_user, .last_invitation, .invitation_expires (and
    .invitation_expired), .revocation, .portal_state (a PortalState value), and the actions
    staff have on it: .can_invite (or invite again) and .can_revoke. Three queries per page."""
    now = timezone.now()
    emails = {c.email.strip().lower() for c in contacts if c.email}
    users = {u.email: u for u in User.objects.filter(email__in=emails)}
    invitations: dict[int, PortalInvitation] = {}
    for invitation in PortalInvitation.objects.filter(user__in=users.values()).order_by("user_id", "-sent_at", "-id"):
        invitations.setdefault(invitation.user_id, invitation)
    revocations: dict[int, PortalAccessRevocation] = {}
    for revocation in PortalAccessRevocation.objects.select_related("revoked_by").filter(
        user__in=[u for u in users.values() if not u.is_active]
    ):
        revocations.setdefault(revocation.user_id, revocation)  # newest first (Meta.ordering)
    for contact in contacts:
        user = users.get(contact.email.strip().lower()) if contact.email else None
        invitation = invitations.get(user.pk) if user else None
        contact.portal_user = user
        contact.last_invitation = invitation
        contact.invitation_expires = invitation.sent_at + INVITATION_MAX_AGE if invitation else None
        contact.invitation_expired = bool(invitation) and contact.invitation_expires <= now
        contact.revocation = revocations.get(user.pk) if user else None
        state = contact.portal_state = _portal_state(contact, user, invitation)
        contact.can_invite = bool(contact.email and contact.is_active) and state in _INVITABLE
        contact.can_revoke = state in {PortalState.HAS_ACCESS, PortalState.INVITED}


_INVITABLE = {PortalState.NOT_INVITED, PortalState.INVITED, PortalState.REVOKED}


def _portal_state(contact: Contact, user: User | None, invitation: PortalInvitation | None) -> str:
    if user is None:
        return PortalState.NOT_INVITED
    if not user.is_client_contact:
        return PortalState.STAFF
    if user.organization_id != contact.organization_id:
        return PortalState.OTHER_ORGANIZATION
    if not user.is_active:
        return PortalState.REVOKED
    if user.has_usable_password():
        return PortalState.HAS_ACCESS
    return PortalState.INVITED if invitation else PortalState.NOT_INVITED


def access_requests_pending(*, limit: int = 50) -> list[PortalAccessRequest]:
    return list(
        PortalAccessRequest.objects.select_related("organization", "contact").filter(
            status=AccessRequestStatus.PENDING
        )[:limit]
    )
