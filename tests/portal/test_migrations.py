"""PortalInvitation and PortalAccessRequest moved from billing to portal (billing 0007 renames
their tables, portal 0001 takes over the state): a database migrated forward from before the
move keeps every row, id and foreign key, and the content types follow the models."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from portal.models import AccessRequestStatus, PortalAccessRequest, PortalInvitation
from tests.billing.factories import ContactFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE_THE_MOVE = [("billing", "0006_image_source_psa_key"), ("portal", None)]
MODELS = ("portalinvitation", "portalaccessrequest")


def _migrate(targets=None):
    """Migrate the test database to ``targets`` (default: the latest migrations); the models of that state."""
    executor = MigrationExecutor(connection)
    targets = targets or executor.loader.graph.leaf_nodes()
    executor.migrate(targets)
    executor.loader.build_graph()
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _tables() -> set[str]:
    with connection.cursor() as cursor:
        return set(connection.introspection.table_names(cursor))


@pytest.fixture
def before_the_move():
    """The database as production has it before the move; migrated to the latest state afterwards
    whatever the test did, so the tests after it find the schema they expect."""
    try:
        yield _migrate(BEFORE_THE_MOVE)
    finally:
        _migrate()
        ContentType.objects.clear_cache()


def test_migrating_forward_keeps_every_row_id_and_foreign_key(before_the_move):
    old = before_the_move
    assert {"billing_portalinvitation", "billing_portalaccessrequest"} <= _tables()
    assert not {"portal_portalinvitation", "portal_portalaccessrequest"} & _tables()
    staff = UserFactory(role="billing_staff")
    contact = ContactFactory()
    invitee = UserFactory(role="client_contact", organization=contact.organization, email=contact.email)
    sent, accepted = timezone.now() - timezone.timedelta(days=2), timezone.now()
    invitations = [
        old.get_model("billing", "PortalInvitation").objects.create(
            user_id=invitee.pk, contact_id=contact.pk, invited_by_id=staff.pk, sent_at=sent, accepted_at=accepted
        ),
        old.get_model("billing", "PortalInvitation").objects.create(user_id=invitee.pk, sent_at=sent),
    ]
    requests = [
        old.get_model("billing", "PortalAccessRequest").objects.create(
            email=contact.email,
            full_name="Pat Example",
            company="Client Co",
            message="Please let me in",
            contact_id=contact.pk,
            organization_id=contact.organization_id,
            status="invited",
            handled_by_id=staff.pk,
            handled_at=accepted,
        ),
        old.get_model("billing", "PortalAccessRequest").objects.create(email="new@nowhere.example", full_name="Lee"),
    ]

    _migrate()

    assert {"portal_portalinvitation", "portal_portalaccessrequest"} <= _tables()
    assert not {"billing_portalinvitation", "billing_portalaccessrequest"} & _tables()
    moved = {i.pk: i for i in PortalInvitation.objects.select_related("user", "contact", "invited_by")}
    assert set(moved) == {i.pk for i in invitations}
    first = moved[invitations[0].pk]
    assert (first.user, first.contact, first.invited_by, first.sent_at, first.accepted_at) == (
        invitee,
        contact,
        staff,
        sent,
        accepted,
    )
    assert list(invitee.portal_invitations.order_by("pk")) == [moved[i.pk] for i in invitations]
    moved_requests = {r.pk: r for r in PortalAccessRequest.objects.select_related("contact", "organization")}
    assert set(moved_requests) == {r.pk for r in requests}
    handled = moved_requests[requests[0].pk]
    assert (handled.email, handled.full_name, handled.company, handled.message) == (
        contact.email,
        "Pat Example",
        "Client Co",
        "Please let me in",
    )
    assert (handled.contact, handled.organization, handled.handled_by_id, handled.status) == (
        contact,
        contact.organization,
        staff.pk,
        AccessRequestStatus.INVITED,
    )
    assert moved_requests[requests[1].pk].status == AccessRequestStatus.PENDING
    # New rows carry on after the old ids.
    assert PortalInvitation.objects.create(user=invitee).pk > max(i.pk for i in invitations)
    assert PortalAccessRequest.objects.create(email="x@y.example", full_name="X").pk > max(r.pk for r in requests)


def test_the_content_types_and_their_permissions_follow_the_models(before_the_move):
    ContentType.objects.clear_cache()
    old_ids = {m: ContentType.objects.get(app_label="billing", model=m).pk for m in MODELS}
    assert not ContentType.objects.filter(app_label="portal", model__in=MODELS).exists()

    _migrate()

    ContentType.objects.clear_cache()
    assert {m: ContentType.objects.get(app_label="portal", model=m).pk for m in MODELS} == old_ids
    assert not ContentType.objects.filter(app_label="billing", model__in=MODELS).exists()
    assert ContentType.objects.get_for_model(PortalInvitation).pk == old_ids["portalinvitation"]
