"""The client's Profile: their organization (and its billing e-mail), and changing their
password (validated, audited, limited as sign-in is; this session kept, others ended)."""

import pytest
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from accounts.models import AuditEvent, Role
from tests.accounts.test_error_reports import SECRET, _failing_post
from tests.billing.factories import OrganizationFactory
from tests.factories import DEFAULT_PASSWORD, UserFactory

PROFILE = reverse("client:profile")
NEW_PASSWORD = "blue-harbor-lantern-42"


@pytest.fixture
def contact(db):
    org = OrganizationFactory(name="Dental Co", billing_email="accounts@dental.example", billing_city="Leeds")
    return UserFactory(email="dana@dental.example", role=Role.CLIENT_CONTACT, organization=org)


def _sign_in(web: Client, email: str, password: str = DEFAULT_PASSWORD) -> int:
    return web.post(reverse("accounts:login"), {"username": email, "password": password}).status_code


def _signed_in(user) -> Client:
    web = Client()
    assert _sign_in(web, user.email) == 302
    return web


def _change(web: Client, current: str, new: str = NEW_PASSWORD, repeat: str | None = None):
    return web.post(
        PROFILE, {"old_password": current, "new_password1": new, "new_password2": new if repeat is None else repeat}
    )


def test_the_profile_shows_the_organization_and_its_billing_email(contact):
    page = _signed_in(contact).get(PROFILE).content.decode()
    assert 'data-testid="profile-organization">Dental Co<' in page
    assert 'data-testid="profile-billing-email">accounts@dental.example<' in page
    assert "Leeds" in page
    assert 'name="old_password"' in page and 'autocomplete="current-password"' in page


def test_changing_the_password_keeps_this_session_ends_the_others_and_is_audited(contact):
    web, other_device = _signed_in(contact), _signed_in(contact)
    response = _change(web, DEFAULT_PASSWORD)
    assert response.status_code == 302 and response["Location"] == PROFILE
    assert "Your password was changed" in web.get(PROFILE).content.decode()
    assert web.get(reverse("client:invoices")).status_code == 200  # still signed in here
    assert other_device.get(reverse("client:invoices")).status_code == 302  # signed out there
    contact.refresh_from_db()
    assert contact.check_password(NEW_PASSWORD)
    event = AuditEvent.objects.get(action="portal.password.changed")
    assert (event.actor, event.target) == (contact, contact.email)
    assert NEW_PASSWORD not in str(event.details) and DEFAULT_PASSWORD not in str(event.details)
    assert Client().login(username=contact.email, password=NEW_PASSWORD)


@pytest.mark.parametrize(
    ("current", "new", "repeat", "error"),
    [
        ("not-my-password", NEW_PASSWORD, None, "That is not your current password."),
        (DEFAULT_PASSWORD, "123", None, "This password is too short"),
        (DEFAULT_PASSWORD, "password", None, "This password is too common"),
        (DEFAULT_PASSWORD, NEW_PASSWORD, "something-else-42", "The two password fields didn"),
    ],
)
def test_a_refused_change_says_why_marks_the_field_and_changes_nothing(contact, current, new, repeat, error):
    web = _signed_in(contact)
    response = _change(web, current, new, repeat)
    page = response.content.decode()
    assert response.status_code == 400 and error in page
    assert 'aria-invalid="true"' in page and "is-invalid" in page
    contact.refresh_from_db()
    assert contact.check_password(DEFAULT_PASSWORD)
    assert not AuditEvent.objects.filter(action="portal.password.changed").exists()


def test_wrong_current_passwords_are_limited_as_sign_in_is(contact, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    web = _signed_in(contact)
    for _ in range(3):
        assert "not your current password" in _change(web, "guess").content.decode()
    # Locked: even the right password is refused, and the sign-in page is locked too.
    response = _change(web, DEFAULT_PASSWORD)
    assert response.status_code == 400 and "Too many failed sign-in attempts" in response.content.decode()
    contact.refresh_from_db()
    assert contact.check_password(DEFAULT_PASSWORD)
    assert _sign_in(Client(), contact.email) == 200  # the sign-in form, with the same refusal


def test_staff_have_no_client_profile(billing_client):
    assert billing_client.post(PROFILE, {"old_password": "x"}).status_code == 403


def test_the_passwords_are_left_out_of_error_reports(contact):
    web = Client()
    web.force_login(contact)
    data = {"old_password": DEFAULT_PASSWORD, "new_password1": SECRET, "new_password2": SECRET}
    request = _failing_post(web, PROFILE, data, "portal.views.client_password_change")
    reported = repr(dict(SafeExceptionReporterFilter().get_post_parameters(request).items()))
    assert SECRET not in reported and DEFAULT_PASSWORD not in reported
