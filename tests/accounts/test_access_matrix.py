"""Every URL pattern of the project, with every role and anonymously.

A new view must be added to EXPECTED, so none can slip through unprotected. The objects the
URLs name exist (created for the signed-in user: a client contact's invoice is their
organization's), so an allowed role must get the page or the action's redirect: a 404 fails
the test instead of passing for "a missing object" (hardening 19)."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from integrations.models import Integration, SyncRun, SyncTrigger
from integrations.registry import get_provider
from integrations.services import integration_save_settings
from tests.billing.access import BILLING_ACCESS
from tests.billing.factories import DataSourceFactory, OrganizationFactory
from tests.factories import UserFactory
from tests.notifications.access import NOTIFICATIONS_ACCESS
from tests.payments.access import PAYMENTS_ACCESS, SIGNATURE_CHECKED
from tests.portal.access import PORTAL_ACCESS
from tests.providers.xero.access import XERO_ACCESS
from tests.roles import ADMIN, BILLING, CLIENT, PUBLIC, STAFF


def sync_run(user) -> dict:
    return {"pk": SyncRun.objects.create(source=DataSourceFactory(), trigger=SyncTrigger.SYNC_NOW).pk}


def organization(user) -> dict:
    return {"pk": OrganizationFactory().pk}


def kaseya_bms(user) -> dict:
    """The Kaseya BMS integration, configured (its server unreachable: Test Connection fails
    at once, and a sync waits for a passed test)."""
    if not Integration.objects.filter(provider_key="kaseya-bms").exists():
        integration_save_settings(
            provider=get_provider("kaseya-bms"),
            actor=UserFactory(role=ADMIN),
            cleaned_data={
                "company_name": "Demo MSP",
                "username": "api@demo.local",
                "password": "not-used",
                "server_url": "https://127.0.0.1:9",
            },
        )
    return {"provider_key": "kaseya-bms"}


# url name -> (kwargs, or user -> kwargs of objects it creates; method; roles allowed[; POST
# data]). Others get 403; anonymous goes to sign-in. Each area keeps its own table beside its tests; they
# are merged here.
def staff_user(user) -> dict:
    """Another staff user, the one the Users page acts on."""
    return {"pk": UserFactory(role=BILLING).pk}


CORE = {
    "home": ({}, "get", {ADMIN, BILLING, CLIENT}),
    "healthz": ({}, "get", PUBLIC),
    "readyz": ({}, "get", PUBLIC),
    "accounts:login": ({}, "get", PUBLIC),
    "accounts:logout": ({}, "post", PUBLIC),
    "accounts:users": ({}, "get", {ADMIN}),
    # Users' actions with a real user: test_user_actions_with_a_real_user below.
    "accounts:user-invite": ({}, "post", {ADMIN}),
    "accounts:user-role": (staff_user, "post", {ADMIN}, {"role": BILLING}),
    "accounts:user-deactivate": (staff_user, "post", {ADMIN}),
    "accounts:user-reactivate": (staff_user, "post", {ADMIN}),
    "accounts:staff-invitation": ({}, "get", PUBLIC),
    "accounts:audit": ({}, "get", {ADMIN}),
    "accounts:audit-export": ({}, "get", {ADMIN}),
    "accounts:password-reset": ({}, "get", PUBLIC),
    "accounts:password-reset-done": ({}, "get", PUBLIC),
    "accounts:password-reset-confirm": ({"uidb64": "MQ", "token": "set-password"}, "get", PUBLIC),
    "accounts:password-reset-complete": ({}, "get", PUBLIC),
    "integrations:list": ({}, "get", STAFF),
    "integrations:settings": ({"provider_key": "kaseya-bms"}, "get", {ADMIN}),
    "integrations:test": (kaseya_bms, "post", {ADMIN}),
    "integrations:delete": (kaseya_bms, "post", {ADMIN}),
    "integrations:card": (kaseya_bms, "get", STAFF),
    "integrations:sync": (kaseya_bms, "post", {ADMIN}),
    "integrations:reconcile": (kaseya_bms, "post", {ADMIN}),
    "integrations:sync-history": ({}, "get", STAFF),
    "integrations:sync-run": (sync_run, "get", STAFF),
    "organizations:list": ({}, "get", STAFF),
    "organizations:detail": (organization, "get", STAFF),
    "billing:invoices": ({}, "get", STAFF),
}
# 503 is a service's answer here, not an access one: /readyz with no worker or beat running, and
# saving a card with no payment processor set up ("Online payments are not set up yet").
ANSWERS_503 = {"readyz", "client-payments:method-setup"}

EXPECTED = {**CORE, **BILLING_ACCESS, **PORTAL_ACCESS, **NOTIFICATIONS_ACCESS, **PAYMENTS_ACCESS, **XERO_ACCESS}


def _all_url_names(resolver=None, namespace=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            child_ns = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _all_url_names(pattern, child_ns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{namespace}{pattern.name}"


# Django's admin (/admin/) has its own walk, with a row of every model:
# tests/accounts/test_admin.py (Master Admins 200; Billing staff and clients 403).
ADMIN_SITE = "admin:"


def test_every_url_pattern_is_in_the_matrix():
    names = {name for name in _all_url_names() if not name.startswith(ADMIN_SITE)}
    assert names - set(EXPECTED) - SIGNATURE_CHECKED == set(), "add the new views to EXPECTED"
    assert set(EXPECTED) - names == set()


def _signed_in(role):
    """A user of ``role`` (a client contact of an organization of their own), or None."""
    if role is None:
        return None
    return UserFactory(role=role, organization=OrganizationFactory() if role == CLIENT else None)


@pytest.mark.parametrize("role", [None, ADMIN, BILLING, CLIENT], ids=["anonymous", "admin", "billing", "client"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hardening_19_each_role_gets_the_expected_answer_on_objects_that_exist(db, name, role):
    kwargs, method, allowed, *data = EXPECTED[name]
    user = _signed_in(role)
    web = Client()
    if user is not None:
        web.force_login(user)
    url = reverse(name, kwargs=kwargs(user) if callable(kwargs) else kwargs)
    response = getattr(web, method)(url, *data)
    if allowed == PUBLIC:
        # /readyz may answer 503 here (no worker or beat runs): that is not an access answer.
        assert response.status_code in ({200, 302, 503} if name in ANSWERS_503 else {200, 302})
    elif role is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    elif role in allowed:
        # Allowed: the page, or a redirect after an action. The object exists: never a 404.
        assert response.status_code in ({200, 302, 503} if name in ANSWERS_503 else {200, 302}), (
            url,
            response.status_code,
        )
        if response.status_code == 302:
            assert not response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == 403


def test_hardening_19_the_objects_the_urls_name_exist_for_the_user(db):
    """Each URL with an object names one its builder created; a client's invoice is theirs."""
    from billing.models import Invoice

    with_objects = {name: entry[0] for name, entry in EXPECTED.items() if callable(entry[0])}
    assert {"integrations:sync-run", "billing:invoice", "client:invoice", "notifications:retry"} <= set(with_objects)
    static = {name: entry[0] for name, entry in EXPECTED.items() if not callable(entry[0])}
    # Fixed kwargs name no row: a registered provider, or a public link's token checked by the view.
    assert all(set(kwargs) <= {"provider_key"} or EXPECTED[name][2] == PUBLIC for name, kwargs in static.items())
    client = _signed_in(CLIENT)
    invoice = Invoice.objects.get(pk=with_objects["client:invoice"](client)["pk"])
    assert invoice.organization_id == client.organization_id


def test_post_without_csrf_token_is_refused(admin_user):
    web = Client(enforce_csrf_checks=True)
    web.force_login(admin_user)
    response = web.post(reverse("integrations:settings", args=["kaseya-bms"]), {"company_name": "x"})
    assert response.status_code == 403


USER_ACTIONS = [
    ("accounts:user-role", {"role": ADMIN}, lambda user: user.role == ADMIN),
    ("accounts:user-deactivate", {}, lambda user: not user.is_active),
    ("accounts:user-reactivate", {}, lambda user: user.is_active),
]


@pytest.mark.parametrize("role", [None, ADMIN, BILLING, CLIENT], ids=["anonymous", "admin", "billing", "client"])
def test_user_actions_with_a_real_user(db, role):
    """Each Users action on a real staff user: only a Master Admin's changes anything."""
    target = UserFactory(role=BILLING)
    web = Client()
    if role:
        web.force_login(UserFactory(role=role))
    for name, data, changed in USER_ACTIONS:
        response = web.post(reverse(name, kwargs={"pk": target.pk}), data)
        target.refresh_from_db()
        if role == ADMIN:
            assert response.status_code == 302 and changed(target), name
        elif role is None:
            assert response["Location"].startswith(reverse("accounts:login"))
        else:
            assert response.status_code == 403
    if role != ADMIN:
        assert target.role == BILLING and target.is_active
    invite = web.post(reverse("accounts:user-invite"), {"email": "new@example.com", "role": BILLING})
    assert User.objects.filter(email="new@example.com").exists() == (role == ADMIN)
    if role in (BILLING, CLIENT):
        assert invite.status_code == 403
