"""Expected answers of the billing URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import STAFF

INVOICE = {"pk": 1}

BILLING_ACCESS = {
    # Staff: invoices and their images; Configurations > Billing > Invoice Image Data.
    "billing:invoices-export": ({}, "get", STAFF),
    "billing:invoice": (INVOICE, "get", STAFF),
    "billing:invoice-image": (INVOICE, "get", STAFF),
    "billing:invoice-pdf": (INVOICE, "get", STAFF),
    "billing:invoice-download": (INVOICE, "get", STAFF),
    "billing:invoice-image-refresh": (INVOICE, "post", STAFF),
    "billing-config:image-sources": ({}, "get", STAFF),
}
