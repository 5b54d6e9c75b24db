"""SEPA mandates: read from Stripe's shapes (a confirmed SetupIntent names its mandate; the
mandate says when and from where it was accepted), and localstripe, which keeps none, answers
404 (the portal then keeps its own record of the acceptance)."""

from __future__ import annotations

import pytest

from providers.stripe.exceptions import NotFound
from providers.stripe.types import Mandate, SetupIntent

STRIPE_MANDATE = {
    "id": "mandate_1Ma2",
    "object": "mandate",
    "customer_acceptance": {
        "accepted_at": 1772443800,
        "online": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0"},
        "type": "online",
    },
    "payment_method": "pm_1Ma2",
    "payment_method_details": {
        "sepa_debit": {"reference": "XE6LXJQF2ZK8J0BZ", "url": "https://payments.stripe.com/sepa/mandate"},
        "type": "sepa_debit",
    },
    "status": "active",
    "type": "multi_use",
}


def test_a_mandate_is_read_from_stripes_shape():
    mandate = Mandate.from_stripe(STRIPE_MANDATE)
    assert (mandate.id, mandate.status, mandate.type, mandate.acceptance_type) == (
        "mandate_1Ma2",
        "active",
        "multi_use",
        "online",
    )
    assert mandate.accepted_at.isoformat() == "2026-03-02T09:30:00+00:00"
    assert (mandate.ip_address, mandate.user_agent) == ("203.0.113.7", "Mozilla/5.0")
    assert (mandate.payment_method, mandate.reference) == ("pm_1Ma2", "XE6LXJQF2ZK8J0BZ")
    offline = Mandate.from_stripe({"id": "mandate_2", "customer_acceptance": {"type": "offline"}})
    assert (offline.accepted_at, offline.ip_address, offline.reference) == (None, None, None)


def test_a_setup_intent_names_its_mandate_whether_expanded_or_not():
    base = {"id": "seti_1", "status": "succeeded", "payment_method_types": ["sepa_debit"]}
    assert SetupIntent.from_stripe({**base, "mandate": "mandate_1Ma2"}).mandate == "mandate_1Ma2"
    assert SetupIntent.from_stripe({**base, "mandate": STRIPE_MANDATE}).mandate == "mandate_1Ma2"
    assert SetupIntent.from_stripe(base).mandate is None  # localstripe


def test_localstripe_keeps_no_mandates(stripe_gateway):
    with pytest.raises(NotFound):
        stripe_gateway.retrieve_mandate("mandate_1Ma2")
    with pytest.raises(ValueError):
        stripe_gateway.retrieve_mandate("pm_not_a_mandate")
