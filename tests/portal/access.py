"""Expected answers of the client-portal URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import CLIENT, PUBLIC, STAFF

INVOICE = {"pk": 1}

PORTAL_ACCESS = {
    # Client portal (another organization's invoice is a 404: tests/portal/test_client_portal.py).
    "client:home": ({}, "get", PUBLIC),  # a redirect to client:invoices, which checks the role
    "client:invoices": ({}, "get", {CLIENT}),
    "client:invoice": (INVOICE, "get", {CLIENT}),
    "client:invoice-image": (INVOICE, "get", {CLIENT}),
    "client:invoice-pdf": (INVOICE, "get", {CLIENT}),
    "client:invoice-download": (INVOICE, "get", {CLIENT}),
    "client:invoice-comment": (INVOICE, "post", {CLIENT}),
    "client:profile": ({}, "get", {CLIENT}),
    # Client-portal access: staff invite; the invitation and the access request are public.
    "portal:client-access": ({}, "get", STAFF),
    "portal:invite-contact": ({"pk": 1}, "post", STAFF),
    "portal:invite-organization": ({"pk": 1}, "post", STAFF),
    "portal:access-request-invite": ({"pk": 1}, "post", STAFF),
    "portal:access-request-dismiss": ({"pk": 1}, "post", STAFF),
    "portal:invitation": ({}, "get", PUBLIC),
    "portal:invitation-accept": ({"token": "not-a-token"}, "get", PUBLIC),
    "portal:request-access": ({}, "get", PUBLIC),
}
