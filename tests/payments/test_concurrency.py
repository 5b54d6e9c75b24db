"""Concurrent attempts, in threads with their own database connections, against localstripe.

What serializes them depends on the database, and both paths are exercised wherever the suite
runs: on PostgreSQL the invoices' row locks (``select_for_update``, taken in pk order) make the
second payment wait and then see the first; on SQLite ``select_for_update`` is a no-op, but
every transaction begins IMMEDIATE (one writer at a time), and the unique idempotency key and
the payment's charge lease do not depend on either. The lock itself is checked on PostgreSQL
only (``test_the_invoice_row_lock_holds_a_second_payment``), and skipped with that reason on
SQLite, never silently."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import OperationalError, close_old_connections, connection, transaction

from billing.models import Invoice
from payments import selectors, services
from payments.models import Initiator, Payment, PaymentStatus

from .conftest import make_invoice, save_card, stripe_list, succeeded_charges

pytestmark = pytest.mark.django_db(transaction=True)
ATTEMPTS = 20


def in_threads(count: int, work):
    """Run ``work(i)`` in ``count`` threads started together; return results or exceptions."""
    start = threading.Barrier(count)

    def run(i):
        start.wait()
        try:
            return work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is the result
            return exc
        finally:
            close_old_connections()
            connection.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_twenty_pay_clicks_on_the_same_invoice_make_one_charge(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "250.00")
    method = save_card(localstripe, organization)

    def click(i):
        # Separate forms (tabs, people), some client and some autopay, all for the whole balance.
        return services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(invoice.pk, Decimal("250.00"))],
            method=method,
            initiated_by=Initiator.AUTOPAY if i % 2 else Initiator.CLIENT,
            actor=None,
            attempt=f"form-{i}",
        )

    outcomes = in_threads(ATTEMPTS, click)
    payments = [o for o in outcomes if isinstance(o, Payment)]
    refused = [o for o in outcomes if isinstance(o, services.PaymentRefused)]
    assert len(payments) == 1 and len(refused) == ATTEMPTS - 1, outcomes
    assert all("nothing left to pay" in str(r) for r in refused)
    assert Payment.objects.count() == 1

    # Twenty workers given the same payment (a redelivered task, a retry, two workers).
    payment = payments[0]
    results = in_threads(ATTEMPTS, lambda i: services.payment_charge(payment_id=payment.pk))
    unexpected = [r for r in results if not isinstance(r, Payment | services.ChargeBusy)]
    assert not unexpected, unexpected
    while (payment := Payment.objects.get(pk=payment.pk)).status == PaymentStatus.PENDING:
        services.payment_charge(payment_id=payment.pk)  # what the busy ones' retries do
    assert payment.status == PaymentStatus.SUCCEEDED
    assert len(stripe_list(localstripe, "/v1/payment_intents")) == 1
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [25000]


def test_twenty_submits_of_the_same_form_are_one_payment(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "30.00")
    method = save_card(localstripe, organization)
    outcomes = in_threads(
        ATTEMPTS,
        lambda i: services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(invoice.pk, Decimal("10.00"))],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt="one-form",
        ),
    )
    assert {o.pk for o in outcomes if isinstance(o, Payment)} == {Payment.objects.get().pk}, outcomes
    assert selectors.invoice_payment_state(invoice).payable == Decimal("20.00")


def test_partial_payments_in_parallel_never_exceed_the_balance(stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "100.00")
    method = save_card(localstripe, organization)
    outcomes = in_threads(
        ATTEMPTS,
        lambda i: services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(invoice.pk, Decimal("30.00"))],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt=f"part-{i}",
        ),
    )
    assert sum(isinstance(o, Payment) for o in outcomes) == 3  # 3 x 30 fit in 100; a 4th does not
    assert selectors.invoice_payment_state(invoice).payable == Decimal("10.00")


def test_two_invoices_paid_in_opposite_orders_do_not_deadlock(stripe_integration, localstripe, organization):
    first, second = make_invoice(organization, "50.00"), make_invoice(organization, "50.00")
    method = save_card(localstripe, organization)

    def pay(i):
        pair = (first, second) if i % 2 else (second, first)
        return services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(inv.pk, Decimal("25.00")) for inv in pair],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt=f"pair-{i}",
        )

    outcomes = in_threads(10, pay)
    assert sum(isinstance(o, Payment) for o in outcomes) == 2, outcomes
    assert not [o for o in outcomes if isinstance(o, OperationalError)]


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="select_for_update is a no-op on SQLite; its serialization is covered above by BEGIN IMMEDIATE",
)
def test_the_invoice_row_lock_holds_a_second_payment(stripe_integration, localstripe, organization):
    """PostgreSQL: while one payment holds the invoice's row lock, another cannot take it."""
    invoice = make_invoice(organization, "40.00")
    method = save_card(localstripe, organization)
    inside, release = threading.Event(), threading.Event()
    real = selectors.unreflected_amounts

    def slow_check(invoices):
        inside.set()
        release.wait(10)
        return real(invoices)

    def first(_):
        services.selectors.unreflected_amounts = slow_check
        try:
            return services.payment_create(
                organization=organization,
                amounts=[services.InvoiceAmount(invoice.pk, Decimal("40.00"))],
                method=method,
                initiated_by=Initiator.CLIENT,
                actor=None,
                attempt="first",
            )
        finally:
            services.selectors.unreflected_amounts = real

    worker = ThreadPoolExecutor(max_workers=1)
    pending = worker.submit(first, 0)
    assert inside.wait(10)
    with pytest.raises(OperationalError), transaction.atomic():
        Invoice.objects.select_for_update(nowait=True).get(pk=invoice.pk)
    release.set()
    assert isinstance(pending.result(20), Payment)
    worker.shutdown()
