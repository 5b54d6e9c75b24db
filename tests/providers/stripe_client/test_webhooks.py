"""Webhook signatures: a real signed delivery from localstripe to a receiver in the test, and
forged, altered and stale ones refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from providers.stripe.client import StripeGateway
from providers.stripe.exceptions import StripeSignatureError
from providers.stripe.types import PaymentIntent

from .helpers import confirm_setup_intent

SECRET = "whsec_portal_tests_0123456789"
ENDPOINT_ID = "portal-tests"


class Receiver:
    """Records each delivery's raw body and Stripe-Signature header, answers 200."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.deliveries.append((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhook"

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.deliveries) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(localstripe):
    receiver = Receiver()
    localstripe.register_webhook(receiver.url, SECRET, endpoint_id=ENDPOINT_ID, events=["payment_intent.succeeded"])
    yield receiver
    # Registrations outlive DELETE /_config/data: leave this one listening to nothing.
    localstripe.register_webhook(receiver.url, SECRET, endpoint_id=ENDPOINT_ID, events=[])
    receiver.close()


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), b"%d.%s" % (timestamp, payload), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def test_a_real_delivery_verifies_and_tampered_ones_do_not(stripe_gateway, localstripe, receiver):
    customer = stripe_gateway.create_customer(name="Acme Ltd")
    setup = stripe_gateway.create_setup_intent(customer=customer.id)
    method = stripe_gateway.attach_payment_method(
        confirm_setup_intent(localstripe, setup.id, "pm_card_visa")["payment_method"], customer=customer.id
    )
    intent = stripe_gateway.create_payment_intent(
        amount=12345,
        currency="usd",
        customer=customer.id,
        payment_method=method.id,
        off_session=True,
        confirm=True,
        metadata={"payment_id": "42"},
        idempotency_key="payment-42",
    )
    receiver.wait_for(1)
    assert len(receiver.deliveries) == 1, "localstripe delivered nothing within 10 s"
    body, signature = receiver.deliveries[0]

    event = StripeGateway.verify_webhook(body, signature, SECRET)
    assert event.type == "payment_intent.succeeded" and event.object_id == intent.id
    delivered = PaymentIntent.from_stripe(event.data_object)
    assert delivered.succeeded and delivered.amount == 12345 and delivered.metadata == {"payment_id": "42"}

    tampered = body.replace(b'"amount": 12345', b'"amount": 1')
    assert tampered != body
    for payload, header, secret in (
        (tampered, signature, SECRET),
        (body, signature, "whsec_some_other_endpoint"),
        (body, sign(body, "whsec_forger", int(time.time())), SECRET),
        (body, "", SECRET),
        (body, "t=notanumber,v1=abc", SECRET),
    ):
        with pytest.raises(StripeSignatureError) as caught:
            StripeGateway.verify_webhook(payload, header, secret)
        assert "whsec" not in str(caught.value)


def test_a_stale_signature_is_refused():
    payload = json.dumps({"id": "evt_1", "type": "charge.refunded", "created": 1, "data": {"object": {}}}).encode()
    now = int(time.time())
    assert StripeGateway.verify_webhook(payload, sign(payload, SECRET, now), SECRET).type == "charge.refunded"
    with pytest.raises(StripeSignatureError, match="tolerance"):
        StripeGateway.verify_webhook(payload, sign(payload, SECRET, now - 301), SECRET)
    assert StripeGateway.verify_webhook(payload, sign(payload, SECRET, now - 301), SECRET, tolerance=600).id == "evt_1"


def test_only_the_raw_body_is_accepted():
    payload = b'{"id": "evt_1", "type": "x", "data": {"object": {}}}'
    with pytest.raises(TypeError):
        StripeGateway.verify_webhook(json.loads(payload), sign(payload, SECRET, int(time.time())), SECRET)
    with pytest.raises(ValueError):
        StripeGateway.verify_webhook(payload, sign(payload, SECRET, int(time.time())), SECRET, tolerance=0)
    signed_not_an_event = b'["not", "an", "event"]'
    with pytest.raises(StripeSignatureError):
        StripeGateway.verify_webhook(signed_not_an_event, sign(signed_not_an_event, SECRET, int(time.time())), SECRET)
