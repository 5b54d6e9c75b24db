"""Refunds against localstripe: full and partial, never more than was paid, exactly once on a
double submit, in parallel, and after a crash between Stripe refunding and the portal recording."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from accounts.models import AuditEvent
from payments import services
from payments.models import Initiator, PaymentStatus, Refund, RefundStatus
from payments.services import InvoiceAmount, PaymentRefused

from .conftest import LOCALSTRIPE_KEY, make_invoice, save_card
from .test_concurrency import in_threads


def paid(localstripe, organization, amount="100.00"):
    invoice = make_invoice(organization, amount)
    method = save_card(localstripe, organization)
    payment = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal(amount))],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="r",
    )
    payment = services.payment_charge(payment_id=payment.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


def refunded_at_stripe(localstripe, payment) -> int:
    intent = requests.get(
        f"{localstripe.url}/v1/payment_intents/{payment.processor_intent_id}", auth=(LOCALSTRIPE_KEY, ""), timeout=10
    ).json()
    return intent["latest_charge"]["amount_refunded"]


@pytest.mark.django_db
def test_partial_then_full_refund(stripe_integration, localstripe, organization, admin_user):
    payment = paid(localstripe, organization)
    refund = services.refund_create(
        payment_id=payment.pk, amount=Decimal("30"), reason="Overbilled", actor=admin_user, request_token="t1"
    )
    assert refund.status == RefundStatus.SUCCEEDED and refund.processor_refund_id.startswith("re_")
    payment.refresh_from_db()
    assert (payment.status, payment.refunded_amount, payment.refundable_amount) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        Decimal("30"),
        Decimal("70"),
    )
    with pytest.raises(PaymentRefused, match=r"At most \$70.00 of this payment"):
        services.refund_create(
            payment_id=payment.pk, amount=Decimal("70.01"), reason="x", actor=admin_user, request_token="t2"
        )
    services.refund_create(
        payment_id=payment.pk, amount=Decimal("70"), reason="Cancelled", actor=admin_user, request_token="t3"
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    assert refunded_at_stripe(localstripe, payment) == 10000
    actions = list(AuditEvent.objects.filter(action__startswith="payment.refund").values_list("action", flat=True))
    assert actions.count("payment.refund_requested") == 2 and actions.count("payment.refund_sent") == 2


@pytest.mark.django_db
def test_a_refund_needs_a_reason_and_a_succeeded_payment(stripe_integration, localstripe, organization, admin_user):
    payment = paid(localstripe, organization)
    with pytest.raises(PaymentRefused, match="reason"):
        services.refund_create(
            payment_id=payment.pk, amount=Decimal("1"), reason=" ", actor=admin_user, request_token="a"
        )
    declined = save_card(localstripe, organization, card="4000000000000341")
    failed = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(make_invoice(organization, "5").pk, Decimal("5"))],
        method=declined,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="f",
    )
    services.payment_charge(payment_id=failed.pk)
    with pytest.raises(PaymentRefused, match="Only a succeeded payment"):
        services.refund_create(
            payment_id=failed.pk, amount=Decimal("5"), reason="x", actor=admin_user, request_token="b"
        )
    assert Refund.objects.count() == 0


@pytest.mark.django_db
def test_a_double_submitted_refund_is_one_refund(stripe_integration, localstripe, organization, admin_user):
    payment = paid(localstripe, organization)
    first = services.refund_create(
        payment_id=payment.pk, amount=Decimal("10"), reason="x", actor=admin_user, request_token="same"
    )
    again = services.refund_create(
        payment_id=payment.pk, amount=Decimal("10"), reason="x", actor=admin_user, request_token="same"
    )
    assert first.pk == again.pk and Refund.objects.count() == 1
    assert refunded_at_stripe(localstripe, payment) == 1000


@pytest.mark.django_db(transaction=True)
def test_parallel_refunds_never_exceed_the_payment(stripe_integration, localstripe, organization, admin_user):
    payment = paid(localstripe, organization)
    outcomes = in_threads(
        10,
        lambda i: services.refund_create(
            payment_id=payment.pk, amount=Decimal("40"), reason="x", actor=admin_user, request_token=f"form-{i}"
        ),
    )
    assert sum(isinstance(o, Refund) for o in outcomes) == 2, outcomes
    assert refunded_at_stripe(localstripe, payment) == 8000
    same = in_threads(
        10,
        lambda i: services.refund_create(
            payment_id=payment.pk, amount=Decimal("5"), reason="x", actor=admin_user, request_token="one-form"
        ),
    )
    assert len({o.pk for o in same if isinstance(o, Refund)}) == 1, same
    assert refunded_at_stripe(localstripe, payment) == 8500


@pytest.mark.django_db
def test_a_crash_after_stripe_refunded_does_not_refund_twice(
    stripe_integration, localstripe, organization, admin_user, monkeypatch
):
    payment = paid(localstripe, organization)

    def crash(**kwargs):
        raise SystemExit("died before recording the refund")

    monkeypatch.setattr(services, "_refund_apply", crash)
    with pytest.raises(SystemExit):
        services.refund_create(
            payment_id=payment.pk, amount=Decimal("25"), reason="x", actor=admin_user, request_token="c"
        )
    monkeypatch.undo()
    refund = Refund.objects.get()
    assert refund.status == RefundStatus.REQUESTED and refunded_at_stripe(localstripe, payment) == 2500

    # The nightly settle (or Check with Stripe) sends it again: Stripe's refunded total says it is done.
    refund = services.refund_refresh(refund_id=refund.pk)
    assert refund.status == RefundStatus.SUCCEEDED
    assert refunded_at_stripe(localstripe, payment) == 2500
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED and payment.refunded_amount == Decimal("25")
