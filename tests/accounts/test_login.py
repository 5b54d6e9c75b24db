import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import DEFAULT_PASSWORD, UserFactory

LOGIN = reverse("accounts:login")


def test_sign_in_and_out(db):
    user = UserFactory(email="staff@example.com")
    web = Client()
    response = web.post(LOGIN, {"username": "staff@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert web.get(reverse("integrations:list")).status_code == 200
    web.post(reverse("accounts:logout"))
    assert web.get(reverse("integrations:list")).status_code == 302
    assert user.is_master_admin


def test_wrong_password_is_refused_with_a_message(db):
    UserFactory(email="staff@example.com")
    response = Client().post(LOGIN, {"username": "staff@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_failed_sign_ins_are_rate_limited(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="staff@example.com")
    web = Client()
    for _ in range(3):
        web.post(LOGIN, {"username": "staff@example.com", "password": "wrong"})
    # Even the right password is refused during the lock-out.
    response = web.post(LOGIN, {"username": "staff@example.com", "password": DEFAULT_PASSWORD})
    assert response.status_code == 200
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert web.get(reverse("integrations:list")).status_code == 302


@pytest.mark.parametrize("role_home", [("client_contact", "client:invoices"), ("billing_staff", "integrations:list")])
def test_home_sends_each_role_to_its_start_page(db, role_home):
    role, target = role_home
    web = Client()
    web.force_login(UserFactory(role=role))
    assert web.get(reverse("home"))["Location"] == reverse(target)
