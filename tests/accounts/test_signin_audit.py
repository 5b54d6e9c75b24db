"""Sign-in, failed sign-in, lock-out and password reset are audited (never with a password);
password reset is limited like sign-in and never tells whether an address has an account."""

import re

from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

LOGIN = reverse("accounts:login")
RESET = reverse("accounts:password-reset")


def _actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def _no_password_anywhere(*passwords):
    for event in AuditEvent.objects.all():
        text = f"{event.target} {event.summary} {event.details}"
        for password in passwords:
            assert password not in text


def test_a_sign_in_is_audited_with_the_address(db):
    user = UserFactory(email="staff@example.com")
    Client(REMOTE_ADDR="198.51.100.7").post(LOGIN, {"username": "staff@example.com", "password": DEFAULT_PASSWORD})
    event = AuditEvent.objects.get(action="accounts.signin")
    assert event.actor == user and event.target == "staff@example.com"
    assert event.details["address"] == "198.51.100.7"
    _no_password_anywhere(DEFAULT_PASSWORD)


def test_failed_sign_ins_and_the_lockout_are_audited_without_the_password(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="staff@example.com")
    web = Client()
    for guess in ["guess-one", "guess-two", "guess-three"]:
        web.post(LOGIN, {"username": "staff@example.com", "password": guess})
    web.post(LOGIN, {"username": "staff@example.com", "password": DEFAULT_PASSWORD})  # refused: locked
    assert _actions() == ["accounts.signin.failed"] * 3 + ["accounts.signin.lockout", "accounts.signin.failed"]
    refused = AuditEvent.objects.filter(action="accounts.signin.failed").order_by("id").last()
    assert refused.details["reason"] == "locked out"
    _no_password_anywhere("guess-one", "guess-two", "guess-three", DEFAULT_PASSWORD)


def test_a_password_typed_into_the_e_mail_field_is_not_recorded(db):
    Client().post(LOGIN, {"username": "my secret password", "password": "x"})
    _no_password_anywhere("my secret password")


def test_password_reset_requested_and_completed_are_audited(db):
    user = UserFactory(email="staff@example.com")
    web = Client()
    assert web.post(RESET, {"email": "staff@example.com"}).status_code == 302
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    page = web.get(link, follow=True)
    new = "a-new-long-passphrase"
    web.post(page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert _actions() == ["accounts.password_reset.requested", "accounts.password_reset.completed"]
    assert AuditEvent.objects.get(action="accounts.password_reset.completed").actor == user
    _no_password_anywhere("a-new-long-passphrase")
    user.refresh_from_db()
    assert user.check_password("a-new-long-passphrase")


def test_password_reset_is_limited_per_account_like_sign_in(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="staff@example.com")
    for n in range(3):  # from three different addresses: the account's own limit
        assert Client(REMOTE_ADDR=f"198.51.100.{n}").post(RESET, {"email": "staff@example.com"}).status_code == 302
    response = Client(REMOTE_ADDR="198.51.100.9").post(RESET, {"email": "staff@example.com"})
    assert response.status_code == 200 and "Too many password reset requests" in response.content.decode()
    assert len(mail.outbox) == 3
    assert "accounts.password_reset.limited" in _actions()


def test_password_reset_is_limited_per_address(db, settings):
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 2
    web = Client(REMOTE_ADDR="203.0.113.5")
    web.post(RESET, {"email": "a@example.com"})
    web.post(RESET, {"email": "b@example.com"})
    response = web.post(RESET, {"email": "c@example.com"})
    assert "Too many password reset requests" in response.content.decode()
    # Another client is not affected.
    assert Client(REMOTE_ADDR="203.0.113.6").post(RESET, {"email": "c@example.com"}).status_code == 302


def test_the_answers_never_tell_whether_the_address_has_an_account(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    UserFactory(email="known@example.com")

    def answers(email):
        web = Client(REMOTE_ADDR="192.0.2.1")
        return [(r.status_code, r.get("Location")) for r in (web.post(RESET, {"email": email}) for _ in range(3))]

    known = answers("known@example.com")
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 100
    unknown = answers("nobody@example.com")
    assert known == unknown
    assert [status for status, _ in known] == [302, 302, 200]
