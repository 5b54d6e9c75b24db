import pytest

from tests.billing.factories import InvoiceFactory, InvoiceLineFactory
from tests.factories import UserFactory


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Cached invoice images go to a fresh directory per test."""
    settings.MEDIA_ROOT = str(tmp_path / "media")


@pytest.fixture
def org_invoice(db):
    invoice = InvoiceFactory()
    InvoiceLineFactory(invoice=invoice, source=invoice.source)
    return invoice


@pytest.fixture
def client_of():
    """A signed-in client contact of an organization: client_of(org) -> (user, web client)."""
    from django.test import Client

    def make(organization, **kwargs):
        user = UserFactory(role="client_contact", organization=organization, **kwargs)
        web = Client()
        web.force_login(user)
        return user, web

    return make
