"""Client portal access: each contact's real state (not invited, invited with the link's
expiry, has access with the last sign-in, revoked), Revoke (sessions end at once, audited,
links stop working), inviting again to give access back, and Invite all skipping those with
access or revoked, saying so."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, Role, User
from core.sessions import SessionStore
from portal.invitations import invitation_send
from portal.models import PortalAccessRevocation, PortalInvitation
from portal.services import client_access_revoke_stale
from tests.billing.factories import ContactFactory, OrganizationFactory
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("invitation_tasks_run_at_once")]

ACCESS = reverse("portal:client-access")
INVITATION = reverse("portal:invitation")
NEW_PASSWORD = "blue-harbor-lantern-42"


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def _row(page: str, email: str) -> str:
    """The contacts table's row of ``email``."""
    for row in re.findall(r"<tr>.*?</tr>", page, flags=re.S):
        if f"<td>{email}</td>" in row:
            return " ".join(row.split())
    raise AssertionError(f"no row for {email}")


def _signed_in(email: str) -> Client:
    web = Client()
    response = web.post(reverse("accounts:login"), {"username": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    return web


def _link(message) -> str:
    return re.search(r"https?://\S+/accounts/invitation/#(\S+)", message.body).group(1)


def test_each_contact_shows_its_real_state_and_only_the_actions_that_apply(billing_client):
    org = OrganizationFactory(name="Dental Co")
    ContactFactory(organization=org, email="new@dental.example")
    invited = ContactFactory(organization=org, email="invited@dental.example")
    expired = ContactFactory(organization=org, email="expired@dental.example")
    member = ContactFactory(organization=org, email="member@dental.example")
    revoked = ContactFactory(organization=org, email="revoked@dental.example")
    gone = ContactFactory(organization=org, email="gone@dental.example")
    billing_client.post(reverse("portal:invite-contact", args=[invited.pk]))
    billing_client.post(reverse("portal:invite-contact", args=[expired.pk]))
    PortalInvitation.objects.filter(user__email=expired.email).update(sent_at=timezone.now() - timedelta(days=8))
    user = UserFactory(email=member.email, role=Role.CLIENT_CONTACT, organization=org)
    User.objects.filter(pk=user.pk).update(last_login=timezone.make_aware(datetime(2026, 11, 30, 9, 15)))
    UserFactory(email=revoked.email, role=Role.CLIENT_CONTACT, organization=org)
    billing_client.post(reverse("portal:revoke-access", args=[User.objects.get(email=revoked.email).pk]))
    UserFactory(email=gone.email, role=Role.CLIENT_CONTACT, organization=org, is_active=False)
    PortalAccessRevocation.objects.create(user=User.objects.get(email=gone.email), reason="bms")

    page = billing_client.get(ACCESS, {"organization": org.pk}).content.decode()

    row = _row(page, "new@dental.example")
    assert "Not invited" in row and ">Invite</button>" in row and "Revoke" not in row
    row = _row(page, "invited@dental.example")
    sent = PortalInvitation.objects.get(user__email=invited.email).sent_at
    valid_until = timezone.localtime(sent + timedelta(days=7)).strftime("%Y-%m-%d %H:%M")
    assert "Invited" in row and f"link valid until {valid_until}" in row
    assert ">Invite again</button>" in row and ">Revoke</button>" in row
    assert "the link expired" in _row(page, "expired@dental.example")
    row = _row(page, "member@dental.example")
    assert "Has access" in row and "Last sign-in 2026-11-30 09:15" in row
    assert "Invite" not in row and ">Revoke</button>" in row  # no Invite for someone who has access
    row = _row(page, "revoked@dental.example")
    assert "Revoked" in row and "by billing@example.com" in row and ">Invite again</button>" in row
    assert "Revoke</button>" not in row
    assert "the BMS contact was gone or inactive" in _row(page, "gone@dental.example")
    # One confirmation dialog per contact that can be revoked, naming who and what happens.
    assert page.count('data-testid="revoke-dialog"') == 3
    assert "is signed out at once" in page and "invite them again" in page


def test_revoke_ends_the_contacts_sessions_at_once_and_is_audited(billing_client):
    contact = ContactFactory(email="dana@client.example")
    user = UserFactory(email=contact.email, role=Role.CLIENT_CONTACT, organization=contact.organization)
    web = _signed_in(user.email)
    key = web.session.session_key
    store = SessionStore()
    assert store._cache.get(store.cache_key_prefix + key) is not None  # the cached copy in Redis
    assert web.get(reverse("client:invoices")).status_code == 200

    response = billing_client.post(reverse("portal:revoke-access", args=[user.pk]), {"next": ACCESS}, follow=True)

    assert "Portal access of dana@client.example revoked: 1 session ended" in _messages(response)
    assert not Session.objects.filter(session_key=key).exists()
    assert store._cache.get(store.cache_key_prefix + key) is None
    assert web.get(reverse("client:invoices")).status_code == 302  # to sign-in, at once
    user.refresh_from_db()
    assert not user.is_active and not user.has_usable_password()
    assert not Client().login(username=user.email, password=DEFAULT_PASSWORD)
    Client().post(reverse("accounts:password-reset"), {"email": user.email})
    assert mail.outbox == []  # nor can a password reset bring access back
    event = AuditEvent.objects.get(action="portal.access.revoked")
    assert (event.actor.email, event.target, event.details["sessions_ended"]) == (
        "billing@example.com",
        "dana@client.example",
        1,
    )
    assert "Revoked" in _row(response.content.decode(), "dana@client.example")
    # Revoking again changes nothing and says so.
    again = billing_client.post(reverse("portal:revoke-access", args=[user.pk]), follow=True)
    assert "already revoked" in _messages(again)
    assert AuditEvent.objects.filter(action="portal.access.revoked").count() == 1


def test_revoke_refuses_staff_accounts(billing_client, admin_user):
    assert billing_client.post(reverse("portal:revoke-access", args=[admin_user.pk])).status_code == 404
    admin_user.refresh_from_db()
    assert admin_user.is_active


def test_a_revoked_invitation_link_stops_working_and_inviting_again_gives_access_back(billing_client):
    contact = ContactFactory(email="sam@client.example")
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    first_link = _link(mail.outbox[-1])
    user = User.objects.get(email=contact.email)
    billing_client.post(reverse("portal:revoke-access", args=[user.pk]))
    assert "not valid" in Client().post(INVITATION, {"token": first_link}).content.decode()

    response = billing_client.post(reverse("portal:invite-contact", args=[contact.pk]), follow=True)
    assert "1 invitation queued." in _messages(response)
    assert "Invited" in _row(response.content.decode(), "sam@client.example")
    user.refresh_from_db()
    assert user.is_active and not user.has_usable_password()  # no access until the new link is used
    assert AuditEvent.objects.filter(action="portal.access.restored", target=user.email).exists()
    web = Client()
    accepted = web.post(
        INVITATION, {"token": _link(mail.outbox[-1]), "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert accepted.status_code == 302 and web.get(reverse("client:invoices")).status_code == 200
    assert "Has access" in _row(billing_client.get(ACCESS).content.decode(), "sam@client.example")


def test_an_invitation_queued_before_a_revoke_is_not_e_mailed(billing_client):
    from connectbooster.celery import app

    app.conf.task_always_eager = False  # queued, not sent yet
    contact = ContactFactory(email="late@client.example")
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    invitation = PortalInvitation.objects.get(user__email=contact.email)
    billing_client.post(reverse("portal:revoke-access", args=[invitation.user_id]))
    assert invitation_send(invitation_id=invitation.pk) is False
    assert mail.outbox == []


def test_invite_all_skips_those_with_access_or_revoked_and_says_who(billing_client):
    org = OrganizationFactory()
    ContactFactory(organization=org, email="a@org.example")
    has_access = ContactFactory(organization=org, email="b@org.example")
    revoked = ContactFactory(organization=org, email="c@org.example")
    UserFactory(email=has_access.email, role=Role.CLIENT_CONTACT, organization=org)
    UserFactory(email=revoked.email, role=Role.CLIENT_CONTACT, organization=org, is_active=False)

    response = billing_client.post(reverse("portal:invite-organization", args=[org.pk]), follow=True)

    assert [m.to[0] for m in mail.outbox] == ["a@org.example"]
    message = _messages(response)
    assert "1 invitation queued." in message
    assert "Skipped 1 already with portal access: b@org.example." in message
    assert "Skipped 1 access revoked (invite each one on their own to give access back): c@org.example." in message
    assert not User.objects.get(email=revoked.email).is_active  # still revoked

    # Nothing left to invite: no "0 invitations sent", but who was skipped and why.
    response = billing_client.post(reverse("portal:invite-contact", args=[has_access.pk]), follow=True)
    assert _messages(response) == "No invitation sent. Skipped 1 already with portal access: b@org.example."


def test_a_contact_revoked_by_the_sync_shows_why(db):
    contact = ContactFactory(email="moved@client.example", is_active=False)
    UserFactory(email=contact.email, role=Role.CLIENT_CONTACT, organization=contact.organization)
    [user] = client_access_revoke_stale(source_id=contact.organization.source_id)
    assert PortalAccessRevocation.objects.get(user=user).reason == "bms"
