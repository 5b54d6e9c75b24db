"""Payments fixtures: a real localstripe process (one per session, flushed per test), the Stripe
integration pointed at it, an organization with open invoices, and what the browser does
(Stripe.js confirming a SetupIntent) done directly against localstripe."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from itertools import count

import pytest
import requests
from django.utils import timezone

from billing.models import Invoice
from integrations.models import DataSource, Integration
from integrations.registry import get_provider
from integrations.services import integration_save_settings
from organizations.models import Organization
from payments import services
from payments.models import PaymentMethod
from tests.providers.stripe_client.conftest import LOCALSTRIPE_KEY, localstripe, localstripe_server  # noqa: F401 (fixtures)

WEBHOOK_SECRET = "whsec_portal_payments_tests"
PUBLISHABLE_KEY = "pk_test_portal_localstripe"
_ids = count(1000)


@pytest.fixture
def stripe_integration(localstripe, settings, admin_user) -> Integration:  # noqa: F811
    settings.STRIPE_API_BASE = localstripe.url
    settings.STRIPE_JS_URL = f"{localstripe.url}/js.stripe.com/v3/"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return integration_save_settings(
        provider=get_provider("stripe"),
        actor=admin_user,
        cleaned_data={
            "publishable_key": PUBLISHABLE_KEY,
            "secret_key": LOCALSTRIPE_KEY,
            "webhook_secret": WEBHOOK_SECRET,
            "mode": "test",
        },
    )


def make_source() -> DataSource:
    return DataSource.objects.get_or_create(
        provider_key="kaseya-bms", tenant_key="tenant:payments", defaults={"display_name": "Demo MSP"}
    )[0]


def make_organization(name: str = "Acme Ltd") -> Organization:
    return Organization.objects.create(
        source=make_source(),
        bms_id=next(_ids),
        sync_hash="x",
        synced_at=timezone.now(),
        name=name,
        billing_email="ap@acme.test",
    )


def make_invoice(organization: Organization, balance: str, number: str | None = None) -> Invoice:
    bms_id = next(_ids)
    return Invoice.objects.create(
        source=organization.source,
        bms_id=bms_id,
        sync_hash="x",
        synced_at=timezone.now(),
        organization=organization,
        number=number or f"INV-{bms_id}",
        total=Decimal(balance),
        balance_due=Decimal(balance),
        invoice_date=timezone.now(),
        due_date=timezone.now() + timezone.timedelta(days=30),
    )


@pytest.fixture
def organization(db) -> Organization:
    return make_organization()


def browser_payment_method(server, number: str) -> str:
    """A card PaymentMethod from a test card number, as Stripe.js would make it."""
    answer = requests.post(
        f"{server.url}/v1/payment_methods",
        data={
            "type": "card",
            "card[number]": number,
            "card[exp_month]": "12",
            "card[exp_year]": "2034",
            "card[cvc]": "123",
        },
        auth=(LOCALSTRIPE_KEY, ""),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["id"]


def browser_confirm_setup(server, setup_id: str, payment_method: str) -> dict:
    """Stripe.js's ``confirmCardSetup``."""
    answer = requests.post(
        f"{server.url}/v1/setup_intents/{setup_id}/confirm",
        data={"payment_method": payment_method},
        auth=(LOCALSTRIPE_KEY, ""),
        timeout=10,
    )
    return answer.json()


def save_card(server, organization, *, card: str = "pm_card_visa", save: bool = True, actor=None) -> PaymentMethod:
    """What the Payment methods page does: a SetupIntent confirmed in the browser, then saved."""
    setup = services.method_setup_begin(organization=organization)
    method = card if card.startswith("pm_") else browser_payment_method(server, card)
    confirmed = browser_confirm_setup(server, setup.id, method)
    if confirmed.get("status") == "requires_action":
        # The 3-D Secure box of Stripe.js, answered "Complete authentication": confirm again.
        answer = requests.post(
            f"{server.url}/v1/setup_intents/{setup.id}/confirm",
            json={"key": PUBLISHABLE_KEY, "use_stripe_sdk": True, "client_secret": setup.client_secret},
            timeout=10,
        )
        assert answer.json().get("status") == "succeeded", answer.text
    return services.method_save_from_setup(organization=organization, actor=actor, setup_id=setup.id, save=save)


def stripe_list(server, path: str) -> list[dict]:
    """Every object of a localstripe listing (``/v1/payment_intents``, ``/v1/charges``...)."""
    found, params = [], {"limit": 100}
    while True:
        answer = requests.get(f"{server.url}{path}", params=params, auth=(LOCALSTRIPE_KEY, ""), timeout=10)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found += page["data"]
        if not page.get("has_more") or not page["data"]:
            return found
        params["starting_after"] = page["data"][-1]["id"]


def succeeded_charges(server) -> list[dict]:
    """Charges that moved money, as localstripe counts them."""
    return [c for c in stripe_list(server, "/v1/charges") if c.get("status") == "succeeded"]


def signed_delivery(event: dict, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature, signed as Stripe signs them."""
    body = json.dumps(event).encode()
    stamp = int(timestamp if timestamp is not None else time.time())
    signature = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, f"t={stamp},v1={signature}"


def intent_event(event_id: str, event_type: str, intent: dict) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "api_version": "2017-08-15",
        "livemode": False,
        "data": {"object": intent},
    }


GOOD_IBAN = "DE89370400440532013000"  # Stripe's test IBAN that debits
DECLINED_IBAN = "DE62370400440532013001"  # accepted with its mandate; the bank refuses the debit


def browser_confirm_sepa_setup(server, client_secret: str, iban: str) -> dict:
    """Stripe.js's ``confirmSepaDebitSetup`` (as localstripe's fake sends it)."""
    setup_id = client_secret.split("_secret_")[0]
    answer = requests.post(
        f"{server.url}/v1/setup_intents/{setup_id}/confirm",
        json={
            "key": PUBLISHABLE_KEY,
            "use_stripe_sdk": True,
            "client_secret": client_secret,
            "payment_method_data": {
                "type": "sepa_debit",
                "sepa_debit": {"iban": iban},
                "billing_details": {"name": "Dana Scully", "email": "dana@acme.test"},
            },
        },
        timeout=10,
    )
    return answer.json()


def save_bank_account(server, organization, *, iban: str = GOOD_IBAN, actor=None) -> PaymentMethod:
    """What the Payment methods page does for SEPA Direct Debit, the mandate accepted."""
    setup = services.method_setup_begin(organization=organization, kinds=("sepa_debit",))
    assert browser_confirm_sepa_setup(server, setup.client_secret, iban).get("status") == "succeeded"
    acceptance = services.MandateAcceptance(
        text=services.sepa_mandate_text(), accepted_at=timezone.now(), ip_address="127.0.0.1"
    )
    return services.method_save_from_setup(
        organization=organization, actor=actor, setup_id=setup.id, save=True, mandate=acceptance
    )
