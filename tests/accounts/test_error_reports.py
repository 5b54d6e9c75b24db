"""Secrets posted to the portal never appear in error reports (hardening item 13): the views
that receive passwords or API keys mark their POST parameters sensitive, so Django's
reports (e-mailed to ADMINS, or logged) show stars instead."""

from unittest import mock

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.urls import reverse
from django.views.debug import SafeExceptionReporterFilter

from tests.factories import UserFactory

SECRET = "hunter2-very-secret"


def _failing_post(web: Client, url: str, data: dict, breaks: str):
    """POST while `breaks` raises inside the view; the request the error report would describe."""
    requests = []

    def capture(sender, request, **kwargs):
        requests.append(request)

    got_request_exception.connect(capture, dispatch_uid="test-error-report")
    web.raise_request_exception = False
    try:
        with mock.patch(breaks, side_effect=RuntimeError("boom")):
            response = web.post(url, data)
    finally:
        got_request_exception.disconnect(dispatch_uid="test-error-report")
    assert response.status_code == 500
    [request] = requests
    return request


CASES = {
    "sign-in": (
        lambda: reverse("accounts:login"),
        {"username": "a@example.com", "password": SECRET},
        "accounts.forms.login_throttle.is_locked_out",
    ),
    "password-reset-confirm": (
        lambda: reverse("accounts:password-reset-confirm", args=["MQ", "set-password"]),
        {"new_password1": SECRET, "new_password2": SECRET},
        "django.contrib.auth.views.PasswordResetConfirmView.get_user",
    ),
    "invitation": (
        lambda: reverse("portal:invitation"),
        {"token": "a-token", "new_password1": SECRET, "new_password2": SECRET},
        "portal.views.invitation_user_for_token",
    ),
    "integration-settings": (
        lambda: reverse("integrations:settings", args=["kaseya-bms"]),
        {"company_name": "Acme", "username": "api", "password": SECRET, "server_url": "https://x.example"},
        "integrations.views.get_provider_or_404",
    ),
}


@pytest.mark.parametrize("view", sorted(CASES))
def test_hardening_13_secrets_are_left_out_of_error_reports(db, view):
    url, data, breaks = CASES[view]
    web = Client()
    if view == "integration-settings":
        web.force_login(UserFactory(role="master_admin"))
    request = _failing_post(web, url(), data, breaks)
    reported = SafeExceptionReporterFilter().get_post_parameters(request)
    assert SECRET not in repr(dict(reported.items()))
