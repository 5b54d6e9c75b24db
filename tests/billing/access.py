"""Expected answers of the billing and client-portal URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import CLIENT, PUBLIC, STAFF

INVOICE = {"pk": 1}

BILLING_ACCESS = {
    # Staff: invoices and their images; Configurations > Billing > Invoice Image Data.
    "billing:invoice": (INVOICE, "get", STAFF),
    "billing:invoice-image": (INVOICE, "get", STAFF),
    "billing:invoice-pdf": (INVOICE, "get", STAFF),
    "billing:invoice-download": (INVOICE, "get", STAFF),
    "billing:invoice-image-refresh": (INVOICE, "post", STAFF),
    "billing-config:image-sources": ({}, "get", STAFF),
    # Client portal (another organization's invoice is a 404: tests/billing/test_client_isolation.py).
    "client:invoices": ({}, "get", {CLIENT}),
    "client:invoice": (INVOICE, "get", {CLIENT}),
    "client:invoice-image": (INVOICE, "get", {CLIENT}),
    "client:invoice-pdf": (INVOICE, "get", {CLIENT}),
    "client:invoice-download": (INVOICE, "get", {CLIENT}),
    "client:invoice-comment": (INVOICE, "post", {CLIENT}),
    "client:profile": ({}, "get", {CLIENT}),
    # Client-portal access: staff invite; the invitation, password reset and access request are public.
    "accounts:client-access": ({}, "get", STAFF),
    "accounts:invite-contact": ({"pk": 1}, "post", STAFF),
    "accounts:invite-organization": ({"pk": 1}, "post", STAFF),
    "accounts:access-request-invite": ({"pk": 1}, "post", STAFF),
    "accounts:access-request-dismiss": ({"pk": 1}, "post", STAFF),
    "accounts:invitation-accept": ({"token": "not-a-token"}, "get", PUBLIC),
    "accounts:request-access": ({}, "get", PUBLIC),
    "accounts:password-reset": ({}, "get", PUBLIC),
    "accounts:password-reset-done": ({}, "get", PUBLIC),
    "accounts:password-reset-confirm": ({"uidb64": "MQ", "token": "set-password"}, "get", PUBLIC),
    "accounts:password-reset-complete": ({}, "get", PUBLIC),
}
