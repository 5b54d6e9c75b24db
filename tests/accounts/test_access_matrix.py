"""Every URL pattern of the project, with every role and anonymously.

A new view must be added to EXPECTED, so none can slip through unprotected."""

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import User
from tests.billing.access import BILLING_ACCESS
from tests.factories import UserFactory
from tests.notifications.access import NOTIFICATIONS_ACCESS
from tests.payments.access import PAYMENTS_ACCESS, SIGNATURE_CHECKED
from tests.portal.access import PORTAL_ACCESS
from tests.roles import ADMIN, BILLING, CLIENT, PUBLIC, STAFF

# url name -> (sample kwargs, method, roles allowed). Others get 403; anonymous goes to sign-in.
# Each area keeps its own table beside its tests; they are merged here.
CORE = {
    "home": ({}, "get", {ADMIN, BILLING, CLIENT}),
    "healthz": ({}, "get", PUBLIC),
    "readyz": ({}, "get", PUBLIC),
    "accounts:login": ({}, "get", PUBLIC),
    "accounts:logout": ({}, "post", PUBLIC),
    "accounts:users": ({}, "get", {ADMIN}),
    # Users' actions with a real user: test_user_actions_with_a_real_user below.
    "accounts:user-invite": ({}, "post", {ADMIN}),
    "accounts:user-role": ({"pk": 1}, "post", {ADMIN}),
    "accounts:user-deactivate": ({"pk": 1}, "post", {ADMIN}),
    "accounts:user-reactivate": ({"pk": 1}, "post", {ADMIN}),
    "accounts:staff-invitation": ({}, "get", PUBLIC),
    "accounts:audit": ({}, "get", {ADMIN}),
    "accounts:audit-export": ({}, "get", {ADMIN}),
    "accounts:password-reset": ({}, "get", PUBLIC),
    "accounts:password-reset-done": ({}, "get", PUBLIC),
    "accounts:password-reset-confirm": ({"uidb64": "MQ", "token": "set-password"}, "get", PUBLIC),
    "accounts:password-reset-complete": ({}, "get", PUBLIC),
    "integrations:list": ({}, "get", STAFF),
    "integrations:settings": ({"provider_key": "kaseya-bms"}, "get", {ADMIN}),
    "integrations:test": ({"provider_key": "kaseya-bms"}, "post", {ADMIN}),
    "integrations:delete": ({"provider_key": "kaseya-bms"}, "post", {ADMIN}),
    "integrations:card": ({"provider_key": "kaseya-bms"}, "get", STAFF),
    "integrations:sync": ({"provider_key": "kaseya-bms"}, "post", {ADMIN}),
    "integrations:reconcile": ({"provider_key": "kaseya-bms"}, "post", {ADMIN}),
    "integrations:sync-history": ({}, "get", STAFF),
    "integrations:sync-run": ({"pk": 1}, "get", STAFF),
    "organizations:list": ({}, "get", STAFF),
    "organizations:detail": ({"pk": 1}, "get", STAFF),
    "billing:invoices": ({}, "get", STAFF),
}
EXPECTED = {**CORE, **BILLING_ACCESS, **PORTAL_ACCESS, **NOTIFICATIONS_ACCESS, **PAYMENTS_ACCESS}


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


@pytest.mark.parametrize("role", [None, ADMIN, BILLING, CLIENT], ids=["anonymous", "admin", "billing", "client"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_gets_the_expected_answer(db, name, role):
    kwargs, method, allowed = EXPECTED[name]
    web = Client()
    if role:
        web.force_login(UserFactory(role=role))
    response = getattr(web, method)(reverse(name, kwargs=kwargs))
    if allowed == PUBLIC:
        # /readyz may answer 503 here (no worker or beat runs): that is not an access answer.
        assert response.status_code in ({200, 302, 503} if name == "readyz" else {200, 302})
    elif role is None:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    elif role in allowed:
        # Allowed: the page, a redirect after an action, or 404 for a missing object.
        assert response.status_code in {200, 302, 404}
        if response.status_code == 302:
            assert not response["Location"].startswith(reverse("accounts:login"))
    else:
        assert response.status_code == 403


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
