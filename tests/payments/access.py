"""Expected answers of the payments URLs (see tests/accounts/test_access_matrix.py).

Builders create the object a URL names, for the signed-in user: a client's belongs to their
organization, so an allowed role must get the page, never a 404."""

import uuid
from datetime import date
from decimal import Decimal

from payments.models import (
    AutopayRule,
    AutopayTiming,
    Initiator,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentStatus,
    ScheduledCharge,
)
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


def rule(user) -> dict:
    """An autopay rule of the user's organization on a saved card."""
    organization = _organization(user)
    record = AutopayRule.objects.create(
        organization=organization, method=_method(organization), timing=AutopayTiming.DAYS_AFTER_DUE, days=3
    )
    return {"pk": record.pk}


def organization(user) -> dict:
    return {"pk": _organization(user).pk}


def organization_rule(user) -> dict:
    record = AutopayRule.objects.get(pk=rule(user)["pk"])
    return {"pk": record.organization_id, "rule_pk": record.pk}


def scheduled_charge(user) -> dict:
    """A charge waiting for approval."""
    organization = _organization(user)
    invoice = InvoiceFactory(organization=organization)
    record = AutopayRule.objects.get(pk=rule(user)["pk"])
    charge = ScheduledCharge.objects.create(
        rule=record, organization=record.organization, invoice=invoice, slot=date.today(), charge_on=date.today()
    )
    return {"pk": charge.pk}


PAYMENTS_ACCESS = {
    # Client (another organization's payment or method is a 404: tests/payments/test_views.py).
    "client-payments:pay": ({}, "get", {CLIENT}),
    "client-payments:payments": ({}, "get", {CLIENT}),
    "client-payments:payment": (PAYMENT, "get", {CLIENT}),
    "client-payments:payment-status": (PAYMENT, "get", {CLIENT}),
    "client-payments:authenticated": (PAYMENT, "post", {CLIENT}),
    "client-payments:receipt": (PAYMENT, "get", {CLIENT}),
    "client-payments:receipt-pdf": (PAYMENT, "get", {CLIENT}),
    "client-payments:methods": ({}, "get", {CLIENT}),
    "client-payments:method-setup": ({}, "post", {CLIENT}),
    "client-payments:method-default": (method, "post", {CLIENT}),
    "client-payments:method-remove": (method, "post", {CLIENT}),
    "client-payments:autopay": ({}, "get", {CLIENT}),
    "client-payments:autopay-rule": (rule, "get", {CLIENT}),
    "client-payments:autopay-move": (rule, "post", {CLIENT}),
    "client-payments:autopay-delete": (rule, "post", {CLIENT}),
    # Staff: Master Admin and Billing staff alike (refunds included).
    "payments:list": ({}, "get", STAFF),
    "payments:detail": (PAYMENT, "get", STAFF),
    "payments:refund": (PAYMENT, "post", STAFF, {"amount": "10.00", "reason": "access check", "token": "t-1"}),
    "payments:refresh": (PAYMENT, "post", STAFF),
    "payments:receipt-pdf": (PAYMENT, "get", STAFF),
    "payments:posting-errors": ({}, "get", STAFF),
    "payments:posting-retry": (posting, "post", STAFF),
    "payments:posting-dismiss": (posting, "post", STAFF, {"note": "Entered by hand"}),
    # Autopay (tests/payments/test_autopay_pages.py checks them with real rules and charges).
    "payments:calendar": ({}, "get", STAFF),
    "payments:approvals": ({}, "get", STAFF),
    "payments:approval-decide": (scheduled_charge, "post", STAFF, {"decision": "skip"}),
    "organization-autopay:rules": (organization, "get", STAFF),
    "organization-autopay:rule": (organization_rule, "get", STAFF),
    "organization-autopay:move": (organization_rule, "post", STAFF),
    "organization-autopay:delete": (organization_rule, "post", STAFF),
    "payments:reconciliation": ({}, "get", STAFF),
}

# Checked by Stripe's signature on the raw body, not by role (tests/payments/test_webhooks.py):
# every role and anonymous get 400 without a valid signature.
SIGNATURE_CHECKED = {"payments:stripe-webhook"}
