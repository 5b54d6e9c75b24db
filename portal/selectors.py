"""Portal reads. Everything a client contact sees is scoped to their organization: another
organization's invoice is a 404 whatever id is tried."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from billing.models import Invoice
from billing.selectors import invoice_list
from organizations.models import Contact, Organization
from portal.models import AccessRequestStatus, PortalAccessRequest, PortalInvitation

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


def contacts_portal_status(contacts: list[Contact]) -> None:
    """Annotate each contact with .portal_user and .last_invitation (two queries per page)."""
    emails = {c.email.strip().lower() for c in contacts if c.email}
    users = {u.email: u for u in User.objects.filter(email__in=emails)}
    invitations = {}
    for invitation in PortalInvitation.objects.filter(user__in=users.values()).order_by("user_id", "-sent_at"):
        invitations.setdefault(invitation.user_id, invitation)
    for contact in contacts:
        user = users.get(contact.email.strip().lower()) if contact.email else None
        contact.portal_user = user
        contact.last_invitation = invitations.get(user.pk) if user else None


def access_requests_pending(*, limit: int = 50) -> list[PortalAccessRequest]:
    return list(
        PortalAccessRequest.objects.select_related("organization", "contact").filter(
            status=AccessRequestStatus.PENDING
        )[:limit]
    )
