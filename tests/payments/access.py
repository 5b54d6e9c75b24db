"""Expected answers of the payments URLs (see tests/accounts/test_access_matrix.py).

Builders create the object a URL names, for the signed-in user: a client's belongs to their
organization, so an allowed role must get the page, never a 404."""

import uuid
from decimal import Decimal

from payments.models import Initiator, Payment, PaymentAllocation, PaymentMethod, PaymentStatus
from tests.billing.factories import InvoiceFactory, OrganizationFactory
from tests.roles import CLIENT, STAFF

from .posting_faults import posting_for_access as posting


def _organization(user):
    return getattr(user, "organization", None) or OrganizationFactory()


def _method(organization) -> PaymentMethod:
    return PaymentMethod.objects.create(
        organization=organization,
        processor="stripe",
        processor_customer_id="cus_access",
        processor_method_id=f"pm_{uuid.uuid4().hex[:12]}",
        kind="card",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2099,
        funding="credit",
    )


def method(user) -> dict:
    return {"pk": _method(_organization(user)).pk}


def payment(user) -> dict:
    """A succeeded payment of one invoice of the user's organization."""
    organization = _organization(user)
    invoice = InvoiceFactory(organization=organization)
    record = Payment.objects.create(
        organization=organization,
        method=_method(organization),
        amount=Decimal("100.00"),
        currency="USD",
        status=PaymentStatus.SUCCEEDED,
        processor="stripe",
        processor_intent_id="pi_access",
        idempotency_key=f"access-{uuid.uuid4().hex}",
        initiated_by=Initiator.CLIENT,
    )
    PaymentAllocation.objects.create(
        payment=record, invoice=invoice, amount=Decimal("100.00"), balance_before=invoice.balance_due
    )
    return {"pk": record.pk}


PAYMENT = payment


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
    "client-payments:method-default": (method, "post", {CLIENT}),
    "client-payments:method-remove": (method, "post", {CLIENT}),
    # Staff: Master Admin and Billing staff alike (refunds included).
    "payments:list": ({}, "get", STAFF),
    "payments:detail": (PAYMENT, "get", STAFF),
    "payments:refund": (PAYMENT, "post", STAFF, {"amount": "10.00", "reason": "access check", "token": "t-1"}),
    "payments:refresh": (PAYMENT, "post", STAFF),
    "payments:posting-errors": ({}, "get", STAFF),
    "payments:posting-retry": (posting, "post", STAFF),
    "payments:posting-dismiss": (posting, "post", STAFF, {"note": "Entered by hand"}),
}

# Checked by Stripe's signature on the raw body, not by role (tests/payments/test_webhooks.py):
# every role and anonymous get 400 without a valid signature.
SIGNATURE_CHECKED = {"payments:stripe-webhook"}
