"""Expected answers of the billing and client-portal URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import CLIENT, STAFF

BILLING_ACCESS = {
    "billing-config:image-sources": ({}, "get", STAFF),
    "client:invoices": ({}, "get", {CLIENT}),
    "client:profile": ({}, "get", {CLIENT}),
}
