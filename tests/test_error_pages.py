"""Issue 14 item 6: styled 403, 404 and 500 pages in the layout of whoever asked; one log
line (no traceback) per refused request; DEBUG off unless asked for, static files served
all the same."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import path, reverse

from tests.billing.factories import OrganizationFactory
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


def _boom(request):
    raise RuntimeError("a bug")


# The URLconf of the 500 test: the project's, plus a view that fails.
urlpatterns = [path("boom/", _boom)]


def test_billing_staff_get_a_403_in_the_staff_layout_saying_why_and_where_to_go(billing_client):
    response = billing_client.get(reverse("integrations:settings", args=["kaseya-bms"]))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'data-status="403"' in html
    assert "This page is not open to your account" in html
    assert "billing@example.com" in html and "Billing staff" in html
    assert "for a Master Admin" in html
    assert 'aria-label="Main navigation"' in html  # the staff layout, with its menu
    assert f'href="{reverse("home")}"' in html and "Go to the start page" in html
    assert "Sign in with another account" in html


def test_a_client_gets_a_403_in_the_client_layout(db):
    client = UserFactory(role="client_contact", organization=OrganizationFactory(), email="pat@client.example")
    web = Client()
    web.force_login(client)
    response = web.get(reverse("billing:invoices"))
    assert response.status_code == 403
    html = response.content.decode()
    assert 'aria-label="Client navigation"' in html and 'aria-label="Main navigation"' not in html
    assert "Go to your invoices" in html


def test_an_unknown_id_is_a_styled_404_without_the_url_patterns(admin_client):
    response = admin_client.get(reverse("billing:invoice", args=[987654]))
    assert response.status_code == 404
    html = response.content.decode()
    assert 'data-status="404"' in html and "There is nothing at this address" in html
    assert 'aria-label="Main navigation"' in html
    assert "URLconf" not in html and "Using the URLconf" not in html  # not Django's debug page


def test_an_unknown_address_for_someone_not_signed_in_offers_sign_in(db):
    response = Client().get("/no/such/page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "There is nothing at this address" in html
    assert f'href="{reverse("accounts:login")}"' in html and ">Sign in<" in html
    assert "Main navigation" not in html and "Client navigation" not in html


@pytest.mark.urls(__name__)
def test_the_500_page_renders_without_a_request_context_or_a_database():
    # No `db` fixture: any database access here would raise.
    web = Client(raise_request_exception=False)
    response = web.get("/boom/")
    assert response.status_code == 500
    html = response.content.decode()
    assert 'data-status="500"' in html and "Something went wrong on our side" in html
    assert "/static/vendor/bootstrap/bootstrap.min.css" in html
    assert "a bug" not in html  # no internals


def _python(code: str, **env_overrides) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update({"PORTAL_ENV": "development", "DJANGO_SETTINGS_MODULE": "connectbooster.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


LOG_A_403_AND_A_500 = """
import django
django.setup()
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseForbidden, HttpResponseServerError
from django.test import RequestFactory
from django.utils.log import log_response
request = RequestFactory().get("/integrations/kaseya-bms/settings/")
try:
    raise PermissionDenied
except PermissionDenied as exc:  # what django.core.handlers.exception does with a 403
    log_response("Forbidden (Permission denied): %s", request.path, response=HttpResponseForbidden(),
                 request=request, exception=exc)
try:
    raise RuntimeError("a bug")
except RuntimeError as exc:
    log_response("Internal Server Error: %s", request.path, response=HttpResponseServerError(),
                 request=request, exception=exc)
"""


def test_a_403_is_one_log_line_without_traceback_and_a_500_keeps_one_traceback():
    # DEBUG on, as a developer would run it: Django's own console handler is on then too.
    result = _python(LOG_A_403_AND_A_500, DEBUG="1")
    assert result.returncode == 0, result.stderr
    log = result.stderr
    assert log.count("Forbidden (Permission denied)") == 1
    assert log.count("Internal Server Error") == 1
    assert log.count("Traceback") == 1  # the 500's, once
    assert log.index("Forbidden") < log.index("Internal Server Error") < log.index("Traceback")
    assert "PermissionDenied" not in log


def test_development_mode_shows_production_pages_unless_debug_is_asked_for():
    probe = "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)"
    assert _python(probe).stdout.split() == ["False"]
    assert _python(probe, DEBUG="1").stdout.split() == ["True"]


def test_static_files_are_served_in_development_with_debug_off():
    probe = (
        "import django; from django.conf import settings; django.setup(); from django.test import Client; "
        "r = Client().get('/static/css/portal.css'); print(settings.DEBUG, r.status_code)"
    )
    result = _python(probe)
    assert result.stdout.split() == ["False", "200"], result.stderr


def test_permission_denied_reaches_the_styled_page_from_any_view(rf, db):
    # The handler Django uses for PermissionDenied renders 403.html with the request.
    from django.views.defaults import permission_denied

    request = rf.get("/")
    request.user = UserFactory(role="billing_staff")
    html = permission_denied(request, PermissionDenied()).content.decode()
    assert "This page is not open to your account" in html
