import pytest

from accounts.models import User
from integrations.models import SyncTrigger
from organizations.models import Contact
from tests.factories import UserFactory
from tests.integrations.sync.helpers import run_sync

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_client_whose_bms_contact_is_deleted_loses_access(bms_integration, bms_sandbox):
    run_sync(bms_integration)
    kept, removed = Contact.objects.exclude(email="").order_by("bms_id")[:2]
    for contact in (kept, removed):
        UserFactory(email=contact.email, role="client_contact", organization=contact.organization)
    bms_sandbox.control.mutate("delete", entity="contacts", id=removed.bms_id)
    run_sync(bms_integration, trigger=SyncTrigger.RECONCILE)
    assert User.objects.get(email=kept.email).is_active
    assert not User.objects.get(email=removed.email).is_active


def test_a_client_moved_to_another_organization_loses_access(bms_integration, bms_sandbox):
    run_sync(bms_integration)
    contact = Contact.objects.exclude(email="").order_by("bms_id").first()
    UserFactory(email=contact.email, role="client_contact", organization=contact.organization)
    other = bms_sandbox.control.records("accounts")[-1]
    bms_sandbox.control.mutate("contact.update", id=contact.bms_id, accountId=other["id"])
    run_sync(bms_integration)
    assert not User.objects.get(email=contact.email).is_active
