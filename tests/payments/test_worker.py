"""Real Celery worker processes on the test database and Redis, charging through localstripe:
a worker that dies between Stripe's confirmation and the portal's commit leaves one charge and
a payment the redelivered task settles; twenty Pay clicks and their tasks, on two workers, make
one charge."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from connectbooster.celery import app
from payments import services
from payments.models import Initiator, Payment, PaymentStatus
from payments.tasks import charge_payment_task
from tests.conftest import CeleryWorker

from .conftest import make_invoice, save_card, stripe_list, succeeded_charges
from .test_concurrency import in_threads

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def wait_until(predicate, *, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"Timed out waiting for {message}")


@pytest.fixture
def payments_worker_env(worker_env, localstripe, stripe_integration):
    return {
        **worker_env,
        "STRIPE_API_BASE": localstripe.url,
        "STRIPE_MAX_NETWORK_RETRIES": "0",
        "PAYMENTS_CHARGE_LEASE_SECONDS": "2",
        "CELERY_BROKER_VISIBILITY_TIMEOUT": "2",
    }


def start(env: dict) -> CeleryWorker:
    worker = CeleryWorker(env)
    worker.start()
    return worker


def test_a_worker_killed_after_the_confirmation_leaves_one_charge_and_the_retry_settles(
    payments_worker_env, localstripe, organization
):
    app.control.purge()
    invoice = make_invoice(organization, "77.00")
    method = save_card(localstripe, organization)
    crashing = start(
        {**payments_worker_env, "PAYMENTS_COLLECTOR_WRAPPER": "tests.payments.fault_collectors.ExitAfterConfirm"}
    )
    try:
        payment = services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(invoice.pk, Decimal("77.00"))],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt="click",
        )  # the charge task is queued on commit
        wait_until(lambda: not crashing.alive, timeout=60, message="the worker to die after confirming")
    finally:
        crashing.stop()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and payment.processor_intent_id
    assert len(succeeded_charges(localstripe)) == 1  # Stripe charged; the portal did not record it

    # The unacknowledged message is visible again after the broker's visibility timeout (2 s),
    # and the dead worker's lease has run out: a new worker settles it without charging again.
    time.sleep(3)
    worker = start(payments_worker_env)
    try:
        wait_until(
            lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED,
            timeout=60,
            message="the redelivered task to settle the payment",
        )
    finally:
        worker.stop()
    assert [i["id"] for i in stripe_list(localstripe, "/v1/payment_intents")] == [payment.processor_intent_id]
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [7700]


def test_twenty_pay_clicks_on_two_workers_make_one_charge(payments_worker_env, localstripe, organization):
    app.control.purge()
    invoice = make_invoice(organization, "19.99")
    method = save_card(localstripe, organization)
    workers = [start(payments_worker_env), start(payments_worker_env)]
    try:
        outcomes = in_threads(
            20,
            lambda i: services.payment_create(
                organization=organization,
                amounts=[services.InvoiceAmount(invoice.pk, Decimal("19.99"))],
                method=method,
                initiated_by=Initiator.CLIENT,
                actor=None,
                attempt=f"click-{i}",
            ),
        )
        [payment] = [o for o in outcomes if isinstance(o, Payment)]
        for _ in range(20):  # redelivered and duplicated tasks on top of the one queued on commit
            charge_payment_task.delay(payment.pk)
        wait_until(
            lambda: Payment.objects.get(pk=payment.pk).status == PaymentStatus.SUCCEEDED,
            timeout=90,
            message="the payment to succeed",
        )
        time.sleep(2)  # let the duplicates run out
    finally:
        for worker in workers:
            worker.stop()
    assert len(stripe_list(localstripe, "/v1/payment_intents")) == 1
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [1999]
