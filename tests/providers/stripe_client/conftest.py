"""Fixtures for the Stripe gateway: one localstripe process per test session, flushed per test.

Written to move to ``tests/conftest.py`` unchanged once other areas (the payments app) need them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from providers.stripe.client import StripeGateway
from scripts.localstripe_server import LocalStripe, start_localstripe

LOCALSTRIPE_KEY = "sk_test_portal_localstripe"  # localstripe takes any sk_ key


@pytest.fixture(scope="session")
def localstripe_server(tmp_path_factory) -> Iterator[LocalStripe]:
    """One localstripe for the session, on a free port, started from scratch."""
    log_path = tmp_path_factory.mktemp("localstripe") / "access.log"
    with open(log_path, "wb") as log:
        server = start_localstripe(log=log)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def localstripe(localstripe_server: LocalStripe) -> LocalStripe:
    """The session's localstripe with no objects or events left by earlier tests."""
    assert localstripe_server.is_running(), "localstripe died during the session"
    localstripe_server.flush()
    return localstripe_server


@pytest.fixture
def stripe_gateway(localstripe: LocalStripe) -> StripeGateway:
    return StripeGateway(LOCALSTRIPE_KEY, api_base=localstripe.url, timeout=10, max_network_retries=0)
