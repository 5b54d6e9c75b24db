"""Redis down (a closed port) or hanging (a socket that accepts and never answers), hardening
item 11: every page answers within a bound. Sessions come from the database, the sign-in
throttle keeps counting (in the database), client invoice lists are rendered uncached, and
what really needs Redis (signing out) answers a styled 503 and changes nothing."""

import socket
import time

import pytest
from django.core.cache import caches
from django.test import Client
from django.urls import reverse

from accounts.models import Role
from connectbooster.celery import app
from core.redis import get_redis
from tests.billing.factories import InvoiceFactory, OrganizationFactory
from tests.factories import DEFAULT_PASSWORD, UserFactory

TIMEOUT = 0.5  # seconds to connect, and to wait for an answer (production: 2 and 5)
BOUND = 2 * TIMEOUT + 1.5  # one timeout per page at most, with room for a slow machine
LOGIN = reverse("accounts:login")


@pytest.fixture(params=["closed-port", "never-answers"])
def redis_unreachable(request, settings):
    """The cache (sessions, lists) and get_redis() pointed at a Redis that is not there."""
    listener = None
    if request.param == "closed-port":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)  # the kernel accepts connections; nothing ever answers
        port = listener.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/1"
    settings.REDIS_CONNECT_TIMEOUT = settings.REDIS_READ_TIMEOUT = TIMEOUT
    settings.CACHE_REDIS_URL = url
    settings.CACHES = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    get_redis.cache_clear()
    yield request.param
    get_redis.cache_clear()
    if listener is not None:
        listener.close()


def _timed(call, *args, **kwargs):
    started = time.monotonic()
    response = call(*args, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < BOUND, f"{args[0]} took {elapsed:.1f}s"
    return response


@pytest.mark.timeout(60)
def test_hardening_11_every_page_answers_in_bounded_time_with_redis_unreachable(redis_unreachable, db, settings):
    organization = OrganizationFactory()
    invoice = InvoiceFactory(organization=organization, number="INV-NO-REDIS")
    UserFactory(email="dana@client.example", role=Role.CLIENT_CONTACT, organization=organization)
    web = Client(raise_request_exception=False)

    # Sign in: the form, the throttle (database) and a new session (database).
    assert _timed(web.get, LOGIN).status_code == 200
    signed_in = _timed(web.post, LOGIN, {"username": "dana@client.example", "password": DEFAULT_PASSWORD})
    assert signed_in.status_code == 302
    # The invoice list, rendered each time; the invoice page; the profile.
    for _ in range(2):
        page = _timed(web.get, reverse("client:invoices"))
        assert page.status_code == 200 and "INV-NO-REDIS" in page.content.decode()
    assert _timed(web.get, reverse("client:invoice", args=[invoice.pk])).status_code == 200
    assert _timed(web.get, reverse("client:profile")).status_code == 200
    # Public pages.
    request_access = {"full_name": "Kim", "email": "kim@client.example"}
    assert _timed(Client().post, reverse("portal:request-access"), request_access).status_code == 200
    assert _timed(Client().get, reverse("accounts:password-reset")).status_code == 200

    # The sign-in throttle still counts: it did not fail open.
    guesser = Client(raise_request_exception=False)
    for _ in range(settings.LOGIN_FAILURE_LIMIT):
        _timed(guesser.post, LOGIN, {"username": "dana@client.example", "password": "guess"})
    locked = _timed(guesser.post, LOGIN, {"username": "dana@client.example", "password": DEFAULT_PASSWORD})
    assert "Too many failed sign-in attempts" in locked.content.decode()

    # Signing out needs Redis (a cached copy left behind would revive the session): a
    # styled 503, and the session is untouched.
    signed_out = _timed(web.post, reverse("accounts:logout"))
    assert signed_out.status_code == 503 and signed_out["Retry-After"]
    html = signed_out.content.decode()
    assert 'data-testid="service-unavailable"' in html and "You are still signed in" in html
    assert _timed(web.get, reverse("client:invoices")).status_code == 200


@pytest.mark.timeout(60)
def test_staff_pages_with_redis_unreachable(redis_unreachable, admin_client):
    admin_client.raise_request_exception = False
    for name in ("integrations:list", "organizations:list", "billing:invoices", "accounts:users"):
        assert _timed(admin_client.get, reverse(name)).status_code == 200, name


def test_hardening_11_every_redis_client_has_timeouts(settings):
    broker_timeouts = (settings.REDIS_CONNECT_TIMEOUT, settings.REDIS_READ_TIMEOUT)  # as Celery read them
    settings.REDIS_CONNECT_TIMEOUT, settings.REDIS_READ_TIMEOUT = 1.5, 2.5
    get_redis.cache_clear()
    try:
        pools = [get_redis().connection_pool, caches.create_connection("default")._cache._get_connection_pool(True)]
        for pool in pools:
            options = pool.connection_kwargs
            assert (options["socket_connect_timeout"], options["socket_timeout"]) == (1.5, 2.5)
    finally:
        get_redis.cache_clear()
    transport = app.conf.broker_transport_options
    assert (transport["socket_connect_timeout"], transport["socket_timeout"]) == broker_timeouts
    assert app.conf.broker_connection_timeout == broker_timeouts[0]


def test_signing_out_with_redis_up_ends_the_session_everywhere(db, client_of):
    from django.contrib.sessions.models import Session

    _user, web = client_of(OrganizationFactory())
    assert web.get(reverse("client:invoices")).status_code == 200
    key = web.session.session_key
    cache_key = "django.contrib.sessions.cached_db" + key
    assert caches["default"].get(cache_key) is not None
    assert web.post(reverse("accounts:logout")).status_code == 302
    assert not Session.objects.filter(session_key=key).exists() and caches["default"].get(cache_key) is None
    assert web.get(reverse("client:invoices")).status_code == 302
