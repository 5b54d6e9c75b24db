"""Test Connection against the real sandbox over HTTP."""

import http.server
import socket
import threading

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from integrations.models import Integration, IntegrationStatus
from integrations.registry import get_provider
from integrations.services import integration_save_settings, integration_test_connection

ALL_AREAS = [
    "signin",
    "crm_view",
    "finance_view",
    "finance_modify",
    "servicedesk_view",
    "servicedesk_modify",
    "admin_view",
]


def _checks(integration: Integration) -> dict:
    integration.refresh_from_db()
    return {check["area"]: check for check in integration.last_test_checks}


def _configure(admin_user, **settings_values) -> Integration:
    return integration_save_settings(
        provider=get_provider("kaseya-bms"), actor=admin_user, cleaned_data=settings_values
    )


def test_every_area_passes_with_the_demo_user(admin_client, bms_integration):
    response = admin_client.post(reverse("integrations:test", args=["kaseya-bms"]), follow=True)
    checks = _checks(bms_integration)
    assert list(checks) == ALL_AREAS
    assert all(check["passed"] for check in checks.values())
    assert bms_integration.status == IntegrationStatus.CONNECTED
    assert "every check passed" in response.content.decode()
    assert AuditEvent.objects.get(action="integration.tested").details["result"] == "passed"


def test_test_connection_changes_nothing_in_bms(bms_integration, admin_user, bms_sandbox):
    integration_test_connection(integration=bms_integration, actor=admin_user)
    counts = bms_sandbox.control.request_counts()["by_endpoint"]
    assert counts, "the test made requests"
    writes = [key for key in counts if key.split()[0] in {"PUT", "PATCH", "DELETE"}]
    creating_posts = [
        key
        for key in counts
        if key.startswith("POST") and not key.endswith(("/search", "/details", "/authenticate", "/refreshtoken"))
    ]
    assert writes == [] and creating_posts == []


def test_missing_finance_modify_is_named(bms_sandbox, sandbox_settings, admin_user):
    bms_sandbox.control.add_user(
        username="limited@demo.local", password="limited-pass", rights={"Finance": {"view": True, "modify": False}}
    )
    integration = _configure(
        admin_user, **{**sandbox_settings, "username": "limited@demo.local", "password": "limited-pass"}
    )
    result = integration_test_connection(integration=integration, actor=admin_user)
    checks = _checks(integration)
    assert not result.passed
    assert checks["finance_modify"]["passed"] is False
    assert checks["finance_modify"]["remedy"] == "Grant Finance: Modify All."
    assert checks["finance_view"]["passed"] is True
    assert checks["crm_view"]["passed"] is True
    assert integration.status == IntegrationStatus.ERROR
    assert "Finance: Modify All" in integration.status_detail


def test_missing_crm_view_fails_the_crm_area(bms_sandbox, sandbox_settings, admin_user):
    bms_sandbox.control.add_user(
        username="nocrm@demo.local", password="nocrm-pass", rights={"CRM": {"view": False, "modify": False}}
    )
    integration = _configure(
        admin_user, **{**sandbox_settings, "username": "nocrm@demo.local", "password": "nocrm-pass"}
    )
    integration_test_connection(integration=integration, actor=admin_user)
    checks = _checks(integration)
    assert checks["crm_view"]["passed"] is False
    assert "CRM: View All" in checks["crm_view"]["remedy"]


@pytest.mark.parametrize(
    ("override", "expected_in_remedy"),
    [
        ({"company_name": "Wrong Company"}, "Company Name"),
        ({"password": "wrong-password"}, "Username and Password"),
    ],
)
def test_sign_in_failures_name_the_reason(sandbox_settings, admin_user, override, expected_in_remedy):
    integration = _configure(admin_user, **{**sandbox_settings, **override})
    result = integration_test_connection(integration=integration, actor=admin_user)
    checks = _checks(integration)
    assert not result.passed
    assert checks["signin"]["passed"] is False
    assert expected_in_remedy in checks["signin"]["remedy"]
    assert all(checks[area]["passed"] is None for area in ALL_AREAS[1:])
    assert override.get("password", "§") not in str(integration.last_test_checks)


def test_user_without_api_access_is_told_to_grant_it(bms_sandbox, sandbox_settings, admin_user):
    bms_sandbox.control.add_user(username="noapi@demo.local", password="noapi-pass", has_api_access=False)
    integration = _configure(
        admin_user, **{**sandbox_settings, "username": "noapi@demo.local", "password": "noapi-pass"}
    )
    integration_test_connection(integration=integration, actor=admin_user)
    assert "Has API Access" in _checks(integration)["signin"]["remedy"]


def test_unreachable_server(sandbox_settings, admin_user, settings):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.BMS_ALLOWED_INSECURE_HOSTS = [f"127.0.0.1:{port}"]
    integration = _configure(admin_user, **{**sandbox_settings, "server_url": f"http://127.0.0.1:{port}"})
    integration_test_connection(integration=integration, actor=admin_user)
    signin = _checks(integration)["signin"]
    assert signin["passed"] is False
    assert "reachable" in signin["remedy"]


class _HtmlHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        body = b"<html><body>Welcome to nginx</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args):
        pass


def test_a_server_that_is_not_bms(sandbox_settings, admin_user, settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HtmlHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        settings.BMS_ALLOWED_INSECURE_HOSTS = [host]
        integration = _configure(admin_user, **{**sandbox_settings, "server_url": f"http://{host}"})
        integration_test_connection(integration=integration, actor=admin_user)
    finally:
        server.shutdown()
    signin = _checks(integration)["signin"]
    assert signin["passed"] is False
    assert "Server URL" in signin["remedy"]


def test_rate_limited(bms_sandbox, bms_integration, admin_user):
    bms_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=30, include_auth=True)
    integration_test_connection(integration=bms_integration, actor=admin_user)
    signin = _checks(bms_integration)["signin"]
    assert signin["passed"] is False
    assert "later" in signin["remedy"]


def test_a_host_that_now_resolves_to_a_private_address_is_refused(bms_integration, admin_user, settings, monkeypatch):
    # Saved while public; DNS now points it inside the network (rebinding).
    bms_integration.config = {**bms_integration.config, "server_url": "https://bms.example.com"}
    bms_integration.save()
    monkeypatch.setattr("providers.kaseya_bms.server_url._resolve", lambda host: ["10.0.0.8"])
    integration_test_connection(integration=bms_integration, actor=admin_user)
    signin = _checks(bms_integration)["signin"]
    assert signin["passed"] is False and "private or local address" in signin["detail"]
