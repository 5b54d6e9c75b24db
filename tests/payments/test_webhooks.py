"""The webhook endpoint: signature on the raw body, each event stored once, answered at once,
processed by re-reading the intent (duplicates and any order change the payment once), the
only view without CSRF; a real signed delivery from localstripe; the nightly settle."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import requests
from django.conf import settings as django_settings
from django.test import Client

from payments import services, signals
from payments.models import Initiator, Payment, PaymentStatus, ProcessorEvent
from payments.services import InvoiceAmount
from providers.stripe.installation import signed_test_delivery

from .conftest import (
    LOCALSTRIPE_KEY,
    intent_event,
    make_invoice,
    save_card,
    signed_delivery,
    stripe_list,
    succeeded_charges,
)

URL = "/payments/webhooks/stripe/"

CRASH_AFTER_CONFIRM = "tests.payments.fault_collectors.CrashAfterConfirm"


def deliver(web: Client, event: dict, **kwargs):
    body, signature = signed_delivery(event, **kwargs)
    return web.post(URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)


def confirmed_but_not_recorded(localstripe, organization, monkeypatch) -> Payment:
    """A payment Stripe charged while the worker died before recording it."""
    invoice = make_invoice(organization, "64.00")
    method = save_card(localstripe, organization)
    payment = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal("64"))],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="x",
    )

    monkeypatch.setattr(django_settings, "PAYMENTS_COLLECTOR_WRAPPER", CRASH_AFTER_CONFIRM)
    with pytest.raises(SystemExit):
        services.payment_charge(payment_id=payment.pk)
    monkeypatch.undo()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    return payment


@pytest.fixture
def changes():
    seen = []

    def listener(sender, payment, previous_status, **kwargs):
        seen.append((payment.pk, previous_status, payment.status))

    signals.payment_changed.connect(listener)
    yield seen
    signals.payment_changed.disconnect(listener)


@pytest.mark.django_db
def test_the_same_event_five_times_and_out_of_order_changes_the_payment_once(
    stripe_integration, localstripe, organization, monkeypatch, django_capture_on_commit_callbacks, changes
):
    payment = confirmed_but_not_recorded(localstripe, organization, monkeypatch)
    intent = stripe_list(localstripe, "/v1/payment_intents")[0]
    # The event's copy of the intent is stale on purpose: only the re-read state counts.
    stale = {**intent, "status": "processing"}
    succeeded = intent_event("evt_succeeded_1", "payment_intent.succeeded", intent)
    processing = intent_event("evt_processing_1", "payment_intent.processing", stale)
    web = Client()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answers = [
            deliver(web, e) for e in (succeeded, processing, succeeded, succeeded, processing, succeeded, succeeded)
        ]
    assert [a.status_code for a in answers] == [200] * 7
    assert [a.json()["new"] for a in answers] == [True, True, False, False, False, False, False]
    assert ProcessorEvent.objects.count() == 2
    assert len(queued) == 2  # one processing task per stored event

    changes.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for event in ProcessorEvent.objects.order_by("-pk"):  # the later event first
            services.processor_event_process(event_pk=event.pk)
            services.processor_event_process(event_pk=event.pk)  # a redelivered task
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert changes == [(payment.pk, PaymentStatus.PENDING, PaymentStatus.SUCCEEDED)]
    outcomes = dict(ProcessorEvent.objects.values_list("event_id", "outcome"))
    assert outcomes == {"evt_processing_1": "pending -> succeeded", "evt_succeeded_1": "unchanged (succeeded)"}
    assert set(payment.events.values_list("event_id", flat=True)) == {"evt_processing_1", "evt_succeeded_1"}
    assert len(succeeded_charges(localstripe)) == 1


@pytest.mark.django_db
def test_deliveries_that_do_not_verify_are_refused_and_not_stored(stripe_integration, localstripe):
    event = intent_event("evt_forged", "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"})
    web = Client()
    assert deliver(web, event, secret="whsec_someone_else").status_code == 400
    assert deliver(web, event, timestamp=int(time.time()) - 3600).status_code == 400
    body, signature = signed_delivery(event)
    tampered = body.replace(b"evt_forged", b"evt_forgee")
    assert web.post(URL, tampered, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature).status_code == 400
    assert web.post(URL, body, content_type="application/json").status_code == 400
    assert web.get(URL).status_code == 405
    assert ProcessorEvent.objects.count() == 0


@pytest.mark.django_db
def test_without_payments_configured_the_endpoint_says_so(db):
    body, signature = signed_test_delivery("whsec_x")
    answer = Client().post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
    assert answer.status_code == 503


@pytest.mark.django_db
def test_the_webhook_is_the_only_view_without_csrf(stripe_integration, client_user):
    web = Client(enforce_csrf_checks=True)
    body, signature = signed_test_delivery("whsec_portal_payments_tests")
    answer = web.post(URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature)
    assert answer.status_code == 200 and answer.json()["new"] is False
    web.force_login(client_user)
    assert web.post("/portal/pay/", {"attempt": "a", "method": "new"}).status_code == 403
    assert web.post("/portal/payment-methods/setup/").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_a_real_signed_delivery_from_localstripe_settles_the_payment(
    stripe_integration, localstripe, organization, live_server, monkeypatch
):
    localstripe.register_webhook(f"{live_server.url}{URL}", "whsec_portal_payments_tests", endpoint_id="payments-tests")
    try:
        payment = confirmed_but_not_recorded(localstripe, organization, monkeypatch)
        # Earlier tests' events may still be on their way (localstripe sends them a second late).
        ours = ProcessorEvent.objects.filter(type="payment_intent.succeeded", object_id=payment.processor_intent_id)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not ours.exists():
            time.sleep(0.1)
        event = ours.get()
        services.processor_event_process(event_pk=event.pk)
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
    finally:
        # Leave nothing pointing at this test's server (localstripe keeps endpoints across flushes).
        localstripe.register_webhook("http://127.0.0.1:9/", "whsec_unused", endpoint_id="payments-tests", events=[])


@pytest.mark.django_db
def test_the_nightly_settle_reads_back_what_no_webhook_told(
    stripe_integration, localstripe, organization, monkeypatch, settings, changes
):
    settings.PAYMENTS_SETTLE_AFTER_MINUTES = 0
    payment = confirmed_but_not_recorded(localstripe, organization, monkeypatch)
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - services.timedelta(minutes=1))
    monkeypatch.setattr("payments.tasks.process_event_task.delay", lambda *a: None)
    counts = services.payments_settle_unsettled()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert counts["payments"] == 1
    # The events Stripe sent that never arrived are stored too, for the record.
    assert counts["fetched_events"] >= 1
    assert ProcessorEvent.objects.filter(
        type="payment_intent.succeeded", object_id=payment.processor_intent_id
    ).exists()
    # A second run changes nothing.
    assert services.payments_settle_unsettled()["fetched_events"] == 0


@pytest.mark.django_db
def test_a_payment_never_authenticated_gives_up_after_a_day(stripe_integration, localstripe, organization, settings):
    settings.PAYMENTS_SETTLE_AFTER_MINUTES = 0
    invoice = make_invoice(organization, "20.00")
    method = save_card(localstripe, organization, card="4000002500003155")
    payment = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal("20"))],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="x",
    )
    assert services.payment_charge(payment_id=payment.pk).action_required
    Payment.objects.filter(pk=payment.pk).update(created_at=payment.created_at - services.timedelta(hours=25))
    services.payments_settle_unsettled()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and "not authenticated in time" in payment.failure_reason
    intent = requests.get(
        f"{localstripe.url}/v1/payment_intents/{payment.processor_intent_id}", auth=(LOCALSTRIPE_KEY, ""), timeout=10
    ).json()
    assert intent["status"] == "canceled"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [None, "master_admin", "billing_staff", "client_contact"])
def test_the_webhook_takes_no_role_only_a_signature(stripe_integration, role):
    from tests.factories import UserFactory

    web = Client()
    if role:
        web.force_login(UserFactory(role=role))
    body, _ = signed_test_delivery("whsec_portal_payments_tests")
    assert web.post(URL, body, content_type="application/json").status_code == 400
    assert ProcessorEvent.objects.count() == 0
