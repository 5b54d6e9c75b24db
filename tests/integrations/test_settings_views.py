import logging

import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from integrations.models import Integration

SETTINGS_URL = reverse("integrations:settings", args=["kaseya-bms"])


@pytest.fixture
def valid_form(sandbox_settings):
    return dict(sandbox_settings)


def test_settings_page_shows_the_form_and_the_security_role_checklist(admin_client):
    page = admin_client.get(SETTINGS_URL).content.decode()
    for label in ("Company Name", "Username", "Password", "Server URL", "Has API Access", "API Employee"):
        assert label in page


def test_save_stores_settings_with_the_password_encrypted(admin_client, valid_form, caplog):
    caplog.set_level(logging.DEBUG)
    response = admin_client.post(SETTINGS_URL, valid_form)
    assert response.status_code == 302
    integration = Integration.objects.get(provider_key="kaseya-bms")
    assert integration.config == {
        "company_name": valid_form["company_name"],
        "username": valid_form["username"],
        "server_url": valid_form["server_url"],
    }
    stored = str(integration.encrypted_secrets)
    assert valid_form["password"] not in stored
    assert integration.get_secret("password") == valid_form["password"]
    assert valid_form["password"] not in caplog.text
    event = AuditEvent.objects.get(action="integration.saved")
    assert valid_form["password"] not in str(event.details) + event.summary
    assert event.actor.email == "admin@example.com"


def test_password_is_never_rendered_back_and_empty_keeps_it(admin_client, valid_form):
    admin_client.post(SETTINGS_URL, valid_form)
    page = admin_client.get(SETTINGS_URL).content.decode()
    assert valid_form["password"] not in page
    assert "A password is stored" in page
    admin_client.post(SETTINGS_URL, {**valid_form, "password": "", "company_name": valid_form["company_name"]})
    integration = Integration.objects.get()
    assert integration.get_secret("password") == valid_form["password"]


@pytest.mark.parametrize("field", ["server_url", "company_name", "username"])
def test_the_stored_password_never_goes_to_another_server_tenant_or_user(admin_client, valid_form, field, settings):
    admin_client.post(SETTINGS_URL, valid_form)
    changed = {"server_url": "http://127.0.0.1:1", "company_name": "Other Co", "username": "other@demo.local"}[field]
    settings.BMS_ALLOWED_INSECURE_HOSTS = [*settings.BMS_ALLOWED_INSECURE_HOSTS, "127.0.0.1:1"]
    response = admin_client.post(SETTINGS_URL, {**valid_form, field: changed, "password": ""})
    assert "Enter the password again" in " ".join(response.context["form"].errors["password"])
    assert Integration.objects.get().config[field] == valid_form[field]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("company_name", "", "This field is required"),
        ("username", "", "This field is required"),
        ("password", "", "Enter the API user"),
        ("server_url", "", "This field is required"),
        ("company_name", "x" * 101, "at most 100 characters"),
        ("username", "x" * 151, "at most 150 characters"),
        ("server_url", "ftp://api.bms.kaseya.com", "must start with https"),
        ("server_url", "http://api.bms.kaseya.com", "Plain http"),
        ("server_url", "https://u:p@api.bms.kaseya.com", "user name or password"),
        ("server_url", "https://api.bms.kaseya.com/api", "without a path"),
        ("server_url", "10.0.0.1", "private or local"),
    ],
)
def test_bad_input_names_the_field_and_saves_nothing(admin_client, valid_form, field, value, message):
    response = admin_client.post(SETTINGS_URL, {**valid_form, field: value})
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    assert not Integration.objects.exists()
    assert not AuditEvent.objects.exists()


def test_bare_host_becomes_https(admin_client, valid_form, monkeypatch):
    monkeypatch.setattr("providers.kaseya_bms.server_url._resolve", lambda host: ["93.184.216.34"])
    admin_client.post(SETTINGS_URL, {**valid_form, "server_url": "api.bms.kaseya.com"})
    assert Integration.objects.get().config["server_url"] == "https://api.bms.kaseya.com"


def test_delete_removes_credentials_and_is_audited(admin_client, bms_integration):
    response = admin_client.post(reverse("integrations:delete", args=["kaseya-bms"]))
    assert response.status_code == 302
    assert not Integration.objects.exists()
    assert AuditEvent.objects.filter(action="integration.deleted").count() == 1
    # A second Delete (double click) changes nothing and does not fail.
    assert admin_client.post(reverse("integrations:delete", args=["kaseya-bms"])).status_code == 302
    assert AuditEvent.objects.filter(action="integration.deleted").count() == 1


def test_integrations_page_shows_the_card_with_its_state(admin_client, bms_integration):
    page = admin_client.get(reverse("integrations:list")).content.decode()
    assert "Kaseya BMS" in page
    assert "Not tested" in page
    for item in ("Settings", "Test Connection", "Delete", "Cancel"):  # the dialog's button says Delete too
        assert item in page


def test_unknown_provider_is_404(admin_client):
    assert admin_client.get(reverse("integrations:settings", args=["nope"])).status_code == 404


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example"])
def test_next_never_leaves_the_site(admin_client, bms_integration, target):
    response = admin_client.post(reverse("integrations:sync", args=["kaseya-bms"]), {"next": target})
    assert response["Location"] == reverse("integrations:list")
