"""Sign-in and access-request throttles, and the client address they count by (hardening
item 3): failures from one address never lock the right password out from another, behind
a trusted proxy each client is counted on its own, and a forged X-Forwarded-For buys
nothing."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from accounts.models import AttemptCounter, Role
from accounts.throttle import address_bucket
from core.client_address import client_address
from core.middleware import TrustedProxyMiddleware
from portal.models import PortalAccessRequest
from tests.factories import DEFAULT_PASSWORD, UserFactory

LOGIN = reverse("accounts:login")
REQUEST_ACCESS = reverse("portal:request-access")
ADMIN_EMAIL = "admin@msp.example"
ATTACKER = "203.0.113.9"
ADMIN_HOME = "198.51.100.7"
PROXY = "10.0.0.5"
LOCKED = "Too many failed sign-in attempts"


def _sign_in(web: Client, password: str, email: str = ADMIN_EMAIL, **meta):
    return web.post(LOGIN, {"username": email, "password": password}, **meta)


def _via_proxy(forwarded_for: str) -> dict:
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded_for}


@pytest.fixture
def master_admin(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 5
    return UserFactory(email=ADMIN_EMAIL, role=Role.MASTER_ADMIN)


def test_hardening_3_failures_from_one_address_never_lock_the_right_password_out_elsewhere(master_admin):
    attacker = Client()
    for _ in range(12):  # five every 15 minutes used to lock the Master Admin out everywhere
        _sign_in(attacker, "guess", REMOTE_ADDR=ATTACKER)
    # The guessing address is locked for that account, even with the right password...
    locked = _sign_in(attacker, DEFAULT_PASSWORD, REMOTE_ADDR=ATTACKER)
    assert locked.status_code == 200 and LOCKED in locked.content.decode()
    # ...but the Master Admin signs in from their own address.
    admin = Client()
    response = _sign_in(admin, DEFAULT_PASSWORD, REMOTE_ADDR=ADMIN_HOME)
    assert response.status_code == 302
    assert admin.get(reverse("accounts:users")).status_code == 200


def test_hardening_3_behind_a_trusted_proxy_each_client_has_its_own_count(master_admin, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    attacker = Client()
    for _ in range(12):
        # The attacker writes the admin's address into the header; the proxy appends the real one.
        _sign_in(attacker, "guess", **_via_proxy(f"{ADMIN_HOME}, {ATTACKER}"))
    locked = _sign_in(attacker, DEFAULT_PASSWORD, **_via_proxy(ATTACKER))
    assert LOCKED in locked.content.decode()
    admin = Client()
    assert _sign_in(admin, DEFAULT_PASSWORD, **_via_proxy(ADMIN_HOME)).status_code == 302


def test_hardening_3_access_requests_are_limited_per_client_behind_the_proxy(db, settings):
    settings.TRUSTED_PROXIES = [PROXY]
    for n in range(5):
        data = {"full_name": "Spammer", "email": f"spam{n}@example.com"}
        assert Client().post(REQUEST_ACCESS, data, **_via_proxy(ATTACKER)).status_code == 200
    refused = Client().post(REQUEST_ACCESS, {"full_name": "S", "email": "spam9@example.com"}, **_via_proxy(ATTACKER))
    assert refused.status_code == 400 and "Too many access requests" in refused.content.decode()
    # Another client behind the same proxy is not affected.
    data = {"full_name": "Kim", "email": "kim@client.example"}
    response = Client().post(REQUEST_ACCESS, data, **_via_proxy(ADMIN_HOME))
    assert response.status_code == 200 and "will review your request" in response.content.decode()
    assert PortalAccessRequest.objects.filter(email="kim@client.example").exists()


def test_without_trusted_proxies_x_forwarded_for_is_ignored(master_admin):
    """A client cannot escape its count by inventing addresses."""
    attacker = Client()
    for n in range(5):
        _sign_in(attacker, "guess", REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    locked = _sign_in(attacker, DEFAULT_PASSWORD, REMOTE_ADDR=ATTACKER, HTTP_X_FORWARDED_FOR="192.0.2.77")
    assert LOCKED in locked.content.decode()


def test_one_address_guessing_across_accounts_is_stopped(db, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    users = [UserFactory(email=f"user{n}@msp.example") for n in range(6)]
    attacker = Client()
    for user in users[:4]:
        _sign_in(attacker, "Summer2026!", email=user.email, REMOTE_ADDR=ATTACKER)
    # The address is locked for every account, so a right guess would not tell.
    locked = _sign_in(attacker, DEFAULT_PASSWORD, email=users[5].email, REMOTE_ADDR=ATTACKER)
    assert LOCKED in locked.content.decode()
    assert _sign_in(Client(), DEFAULT_PASSWORD, email=users[5].email, REMOTE_ADDR=ADMIN_HOME).status_code == 302


def test_a_success_clears_only_its_own_count(master_admin, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 6
    other, third = UserFactory(email="other@msp.example"), UserFactory(email="third@msp.example")
    web = Client()
    for _ in range(4):
        _sign_in(web, "guess", email=other.email, REMOTE_ADDR=ATTACKER)
    assert _sign_in(web, DEFAULT_PASSWORD, REMOTE_ADDR=ATTACKER).status_code == 302  # own account: fine
    web = Client()
    # Signing in to one's own account did not reset the address's count of failures.
    for _ in range(2):
        _sign_in(web, "guess", email=third.email, REMOTE_ADDR=ATTACKER)
    assert LOCKED in _sign_in(web, DEFAULT_PASSWORD, REMOTE_ADDR=ATTACKER).content.decode()


def test_throttle_counters_store_no_address_or_email(master_admin):
    _sign_in(Client(), "guess", REMOTE_ADDR=ATTACKER)
    keys = " ".join(AttemptCounter.objects.values_list("key", flat=True))
    assert AttemptCounter.objects.count() == 2
    assert ATTACKER not in keys and ADMIN_EMAIL not in keys


# --- the client address ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trusted, remote, forwarded, expected",
    [
        ([], ATTACKER, "", ATTACKER),
        ([], PROXY, "198.51.100.7", PROXY),  # no proxy configured: the header is ignored
        ([PROXY], ATTACKER, "198.51.100.7", ATTACKER),  # not from the proxy: ignored
        ([PROXY], PROXY, "198.51.100.7", "198.51.100.7"),
        ([PROXY], PROXY, "1.1.1.1, 198.51.100.7", "198.51.100.7"),  # the client's own prefix is not believed
        (["10.0.0.0/8"], PROXY, "198.51.100.7, 10.1.2.3", "198.51.100.7"),  # two proxies in a row
        (["10.0.0.0/8"], PROXY, "10.1.2.3, 10.4.5.6", "10.1.2.3"),  # trusted all the way: the leftmost
        ([PROXY], PROXY, "unknown", PROXY),  # not an address: the proxy is all we know
        ([PROXY], PROXY, "198.51.100.7:5123", "198.51.100.7"),
        ([PROXY], PROXY, "[2001:db8::7]:443", "2001:db8::7"),
        (["10.0.0.0/8"], "::ffff:10.0.0.5", "198.51.100.7", "198.51.100.7"),  # IPv4-mapped proxy address
        (["2001:db8:1::/48"], "2001:db8:1::2", "2001:db8:9::1", "2001:db8:9::1"),
        ([], "", "198.51.100.7", "unix"),  # over a Unix socket, from no trusted proxy
        (["unix"], "", "198.51.100.7", "198.51.100.7"),  # a proxy in front of gunicorn's Unix socket
    ],
)
def test_client_address(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    meta = {"REMOTE_ADDR": remote}
    if forwarded:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_address(RequestFactory().get("/", **meta)) == expected


def test_an_ipv6_client_is_counted_by_its_64():
    assert address_bucket("2001:db8:1:2:aaaa::1") == address_bucket("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_bucket("2001:db8:1:3::1") != address_bucket("2001:db8:1:2::1")
    assert address_bucket(ATTACKER) == ATTACKER


# --- X-Forwarded-Proto ----------------------------------------------------------------------------


@pytest.mark.parametrize("remote, secure", [(PROXY, True), (ATTACKER, False)])
def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(settings, remote, secure):
    settings.TRUSTED_PROXIES = [PROXY]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_PROTO="https")
    assert TrustedProxyMiddleware(lambda r: r.is_secure())(request) is secure
