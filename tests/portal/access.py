"""Expected answers of the client-portal URLs (see tests/accounts/test_access_matrix.py).

An entry is (the URL's kwargs, or a function of the signed-in user creating the object the URL
names; the method; the roles allowed[; the POST data]) (a client contact's invoice is their organization's: another
organization's is a 404, tests/portal/test_client_portal.py)."""

from portal.models import PortalAccessRequest
from tests.billing.access import invoice
from tests.billing.factories import ContactFactory
from tests.factories import UserFactory
from tests.roles import CLIENT, PUBLIC, STAFF


def contact(user) -> dict:
    return {"pk": ContactFactory().pk}


def organization(user) -> dict:
    return {"pk": ContactFactory().organization_id}  # with a contact to invite


def client_user(user) -> dict:
    """A client contact with portal access (the one whose access is revoked)."""
    contact = ContactFactory()
    return {"pk": UserFactory(email=contact.email, role=CLIENT, organization=contact.organization).pk}


def access_request(user) -> dict:
    request = PortalAccessRequest.objects.create(email=ContactFactory().email, full_name="Pat Example")
    return {"pk": request.pk}


PORTAL_ACCESS = {
    # Client portal.
    "client:home": ({}, "get", PUBLIC),  # a redirect to client:invoices, which checks the role
    "client:invoices": ({}, "get", {CLIENT}),
    "client:invoice": (invoice, "get", {CLIENT}),
    "client:invoice-image": (invoice, "get", {CLIENT}),
    "client:invoice-pdf": (invoice, "get", {CLIENT}),
    "client:invoice-download": (invoice, "get", {CLIENT}),
    "client:invoice-comment": (invoice, "post", {CLIENT}, {"body": "Is the second line right?"}),
    "client:profile": ({}, "get", {CLIENT}),
    # Client-portal access: staff invite; the invitation and the access request are public.
    "portal:client-access": ({}, "get", STAFF),
    "portal:invite-contact": (contact, "post", STAFF),
    "portal:invite-organization": (organization, "post", STAFF),
    "portal:revoke-access": (client_user, "post", STAFF),
    "portal:access-request-invite": (access_request, "post", STAFF),
    "portal:access-request-dismiss": (access_request, "post", STAFF),
    "portal:invitation": ({}, "get", PUBLIC),
    "portal:invitation-accept": ({"token": "not-a-token"}, "get", PUBLIC),
    "portal:request-access": ({}, "get", PUBLIC),
}
