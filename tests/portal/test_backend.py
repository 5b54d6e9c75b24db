"""The sign-in backend's per-request user lookup."""

from django.utils import timezone

from portal.backends import PortalBackend
from tests.billing.factories import OrganizationFactory
from tests.factories import UserFactory


def test_the_user_comes_with_its_organizations_state(db, django_assert_num_queries):
    organization = OrganizationFactory()
    user = UserFactory(role="client_contact", organization=organization)
    with django_assert_num_queries(1):
        loaded = PortalBackend().get_user(str(user.pk))
        assert loaded == user and loaded.organization_id == organization.pk
        assert not loaded.organization_is_deleted
    organization.deleted_at = timezone.now()
    organization.save(update_fields=["deleted_at"])
    assert PortalBackend().get_user(str(user.pk)).organization_is_deleted


def test_staff_without_an_organization_load_too(db):
    staff = UserFactory(role="billing_staff")
    loaded = PortalBackend().get_user(staff.pk)
    assert loaded == staff and not loaded.organization_is_deleted


def test_unknown_malformed_or_inactive_users_are_nobody(db):
    inactive = UserFactory(role="client_contact", is_active=False)
    backend = PortalBackend()
    assert backend.get_user("999999") is None
    assert backend.get_user("not-a-number") is None
    assert backend.get_user(str(inactive.pk)) is None
