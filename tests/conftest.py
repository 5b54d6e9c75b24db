from urllib.parse import urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Role
from integrations.models import Integration
from integrations.registry import get_provider
from integrations.services import integration_save_settings
from tests.factories import UserFactory

pytest_plugins = ["bms_sandbox.pytest_plugin"]


@pytest.fixture(autouse=True)
def _clean_cache():
    """Redis is shared by the whole run: start every test with an empty cache."""
    cache.clear()
    yield


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", role=Role.MASTER_ADMIN)


@pytest.fixture
def billing_user(db):
    return UserFactory(email="billing@example.com", role=Role.BILLING_STAFF)


@pytest.fixture
def client_user(db):
    return UserFactory(email="client@example.com", role=Role.CLIENT_CONTACT)


def _logged_in(user) -> Client:
    web = Client()
    web.force_login(user)
    return web


@pytest.fixture
def admin_client(admin_user):
    return _logged_in(admin_user)


@pytest.fixture
def billing_client(billing_user):
    return _logged_in(billing_user)


@pytest.fixture
def client_client(client_user):
    return _logged_in(client_user)


@pytest.fixture
def sandbox_settings(bms_sandbox, settings):
    """The sandbox's host:port may use plain http, as the demo allows."""
    settings.BMS_ALLOWED_INSECURE_HOSTS = [urlsplit(bms_sandbox.url).netloc]
    return {
        "company_name": bms_sandbox.tenant,
        "username": bms_sandbox.username,
        "password": bms_sandbox.password,
        "server_url": bms_sandbox.url,
    }


@pytest.fixture
def bms_integration(sandbox_settings, admin_user) -> Integration:
    return integration_save_settings(
        provider=get_provider("kaseya-bms"), actor=admin_user, cleaned_data=sandbox_settings
    )
