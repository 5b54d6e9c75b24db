"""Expected answers of the Xero provider's URLs (see tests/accounts/test_access_matrix.py).

Builders create what a URL names (a configured Xero integration, its data source, a contact
linked by hand), so an allowed role must get the page or a redirect, never a 404."""

import uuid

from django.utils import timezone

from integrations.models import DataSource, Integration
from providers.xero.models import XeroConnection, XeroContact, XeroContactLink
from tests.billing.factories import OrganizationFactory
from tests.roles import ADMIN, STAFF


def _xero() -> tuple[Integration, DataSource]:
    integration, _ = Integration.objects.get_or_create(
        provider_key="xero",
        defaults={"config": {"client_id": "X" * 32, "payment_account": "615", "scope_set": "broad"}},
    )
    source, _ = DataSource.objects.get_or_create(
        provider_key="xero",
        tenant_key="tenant:access-check",
        defaults={"display_name": "Demo MSP", "integration": integration, "tenant_identified": True},
    )
    if not integration.has_secret("client_secret"):
        integration.set_secret("client_secret", "access-check-secret")
        integration.save(update_fields=["encrypted_secrets"])
    return integration, source


def connection(user) -> dict:
    """Xero connected, no organisation chosen yet (the grant covers several)."""
    integration, _ = _xero()
    XeroConnection.objects.get_or_create(integration=integration, defaults={"connected_at": timezone.now()})
    return {}


def linked_contact(user) -> dict:
    """A Xero contact linked by hand to an organization."""
    _, source = _xero()
    organization = OrganizationFactory()
    contact = XeroContact.objects.create(
        source=source,
        bms_id=str(uuid.uuid4()),
        name="Northwind (Xero)",
        sync_hash="0" * 32,
        synced_at=timezone.now(),
        organization=organization,
    )
    XeroContactLink.objects.create(source=source, contact_id=contact.bms_id, organization=organization)
    return {"pk": contact.pk}


XERO_ACCESS = {
    # Connecting is the Master Admin's, as Settings are.
    "integrations:xero:connect": ({}, "post", {ADMIN}),
    "integrations:xero:callback": ({}, "get", {ADMIN}),
    "integrations:xero:choose": (connection, "get", {ADMIN}),
    # Organizations > Unmatched in Xero: staff view and link.
    "integrations:xero:unmatched": ({}, "get", STAFF),
    "integrations:xero:link": ({}, "post", STAFF),
    "integrations:xero:unlink": (linked_contact, "post", STAFF),
}
