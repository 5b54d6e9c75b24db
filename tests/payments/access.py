"""Expected answers of the payments URLs (see tests/accounts/test_access_matrix.py)."""

from tests.roles import CLIENT, STAFF

PAYMENT = {"pk": 1}

PAYMENTS_ACCESS = {
    # Client (another organization's payment or method is a 404: tests/payments/test_views.py).
    "client-payments:pay": ({}, "get", {CLIENT}),
    "client-payments:payments": ({}, "get", {CLIENT}),
    "client-payments:payment": (PAYMENT, "get", {CLIENT}),
    "client-payments:payment-status": (PAYMENT, "get", {CLIENT}),
    "client-payments:authenticated": (PAYMENT, "post", {CLIENT}),
    "client-payments:receipt": (PAYMENT, "get", {CLIENT}),
    "client-payments:methods": ({}, "get", {CLIENT}),
    "client-payments:method-setup": ({}, "post", {CLIENT}),
    "client-payments:method-default": (PAYMENT, "post", {CLIENT}),
    "client-payments:method-remove": (PAYMENT, "post", {CLIENT}),
    # Staff: Master Admin and Billing staff alike (refunds included).
    "payments:list": ({}, "get", STAFF),
    "payments:detail": (PAYMENT, "get", STAFF),
    "payments:refund": (PAYMENT, "post", STAFF),
    "payments:refresh": (PAYMENT, "post", STAFF),
    "payments:reconciliation": ({}, "get", STAFF),
}

# Checked by Stripe's signature on the raw body, not by role (tests/payments/test_webhooks.py):
# every role and anonymous get 400 without a valid signature.
SIGNATURE_CHECKED = {"payments:stripe-webhook"}
