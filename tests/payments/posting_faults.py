"""Test-only accounting posters (never in production code): the real installation, and a crash at
the worst moment."""

import logging

logger = logging.getLogger(__name__)


class CrashAfterPost:
    """Passes every call to the real poster, and dies the moment the package has created the payment:
    the worker killed after the PUT and before the portal's commit, which exactly-once must survive."""

    def __init__(self, real) -> None:
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def post_payment(self, *args, **kwargs):
        posted = self._real.post_payment(*args, **kwargs)
        logger.warning("Fault injection: the worker dies after the package posted %s", posted)
        raise SystemExit("the worker died after the accounting package posted the payment")


class CrashAfterReverse(CrashAfterPost):
    """Dies the moment the package has reversed the payment a refund replaces, before the portal
    records it (and before the amount kept is posted)."""

    def post_payment(self, *args, **kwargs):
        return self._real.post_payment(*args, **kwargs)

    def reverse_payment(self, *args, **kwargs):
        self._real.reverse_payment(*args, **kwargs)
        logger.warning("Fault injection: the worker dies after the package reversed a payment")
        raise SystemExit("the worker died after the accounting package reversed the payment")


def posting_for_access(user) -> dict:
    """A refused posting, for the URL access matrix (tests/payments/access.py)."""
    from decimal import Decimal

    from payments.models import Payment, PaymentAllocation, PaymentMethod, PaymentPosting, PostingStatus
    from tests.billing.factories import InvoiceFactory

    invoice = InvoiceFactory()
    method = PaymentMethod.objects.create(
        organization=invoice.organization,
        processor="stripe",
        processor_customer_id="cus_access",
        processor_method_id=f"pm_access_{invoice.pk}",
        kind="card",
        last4="4242",
    )
    payment = Payment.objects.create(
        organization=invoice.organization,
        method=method,
        amount=Decimal("10"),
        currency="USD",
        status="succeeded",
        processor="stripe",
        idempotency_key=f"access-{invoice.pk}",
        initiated_by="client",
    )
    allocation = PaymentAllocation.objects.create(
        payment=payment, invoice=invoice, amount=Decimal("10"), balance_before=Decimal("10")
    )
    row = PaymentPosting.objects.create(
        allocation=allocation, payment=payment, status=PostingStatus.REFUSED, last_error="Xero refused it"
    )
    return {"pk": row.pk}
