"""What the browser (Stripe.js) does in the real flow, done directly against localstripe."""

from __future__ import annotations

import requests

from scripts.localstripe_server import LocalStripe

from .conftest import LOCALSTRIPE_KEY


def _post(server: LocalStripe, path: str, data: dict) -> dict:
    answer = requests.post(server.url + path, data=data, auth=(LOCALSTRIPE_KEY, ""), timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def card_payment_method(server: LocalStripe, number: str) -> str:
    """A card PaymentMethod from a test card number (real Stripe takes raw numbers only from Stripe.js)."""
    data = {
        "type": "card",
        "card[number]": number,
        "card[exp_month]": "12",
        "card[exp_year]": "2034",
        "card[cvc]": "123",
    }
    return _post(server, "/v1/payment_methods", data)["id"]


def confirm_setup_intent(server: LocalStripe, setup_intent_id: str, payment_method: str) -> dict:
    """The browser's ``confirmCardSetup``."""
    return _post(server, f"/v1/setup_intents/{setup_intent_id}/confirm", {"payment_method": payment_method})
