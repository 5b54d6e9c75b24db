"""Inviting client contacts, accepting (and the 7-day expiry), password reset, access requests,
and the sign-in limits that protect client accounts."""

import re
import time
from unittest import mock

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User
from portal.models import AccessRequestStatus, PortalAccessRequest, PortalInvitation
from portal.signals import portal_access_requested
from tests.billing.factories import ContactFactory, OrganizationFactory
from tests.factories import DEFAULT_PASSWORD, UserFactory

NEW_PASSWORD = "blue-harbor-lantern-42"
INVITATION = reverse("portal:invitation")


# Invitations are e-mailed by a Celery task queued on commit: these tests commit (a
# transactional database) and run the task at once in this process (eager), as a worker would.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_run_at_once():
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _link(message) -> str:
    """The invitation's token: the link is /accounts/invitation/#<token>."""
    return re.search(r"https?://\S+/accounts/invitation/#(\S+)", message.body).group(1)


def _open(token: str):
    """What the invitation page shows once its script has posted the token."""
    return Client().post(INVITATION, {"token": token})


def _accept(token: str, password: str = NEW_PASSWORD) -> tuple[Client, object]:
    web = Client()
    response = web.post(INVITATION, {"token": token, "new_password1": password, "new_password2": password})
    return web, response


def test_staff_invite_a_contact_who_sets_a_password_and_sees_their_invoices(billing_client, settings):
    settings.MSP_NAME = "Acme IT"
    contact = ContactFactory(first_name="Dana", last_name="Client", email="Dana@Client.example")
    response = billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    assert response.status_code == 302
    user = User.objects.get(email="dana@client.example")
    assert (user.role, user.organization, user.has_usable_password()) == (
        Role.CLIENT_CONTACT,
        contact.organization,
        False,
    )
    [message] = mail.outbox
    assert message.to == ["dana@client.example"]
    assert "Acme IT" in message.subject and "valid for 7 days" in message.body
    link = _link(message)

    page = _open(link)
    assert page.status_code == 200 and "dana@client.example" in page.content.decode()
    web, accepted = _accept(link)
    assert accepted.status_code == 302 and accepted["Location"] == reverse("client:invoices")
    assert web.get(reverse("client:invoices")).status_code == 200
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert PortalInvitation.objects.get(user=user).accepted_at is not None
    # The link works once.
    again = _open(link).content.decode()
    assert "already used" in again
    assert Client().login(username="dana@client.example", password=NEW_PASSWORD)


def test_the_invitation_expires_after_7_days(billing_client):
    contact = ContactFactory()
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    link = _link(mail.outbox[0])
    now = time.time()
    with mock.patch("django.core.signing.time.time", return_value=now + 7 * 86400 - 60):
        assert "Choose a password" in _open(link).content.decode()
    with mock.patch("django.core.signing.time.time", return_value=now + 7 * 86400 + 60):
        expired = _open(link).content.decode()
        _web, response = _accept(link)
    assert "expired" in expired
    assert response.status_code == 400
    assert not User.objects.get(email=contact.email).has_usable_password()


def test_a_tampered_link_is_refused(db):
    assert "not valid" in _open("abc:def:ghi").content.decode()
    # A link of the earlier form (token in the path) is checked the same way.
    legacy = Client().get(reverse("portal:invitation-accept", args=["abc:def:ghi"]))
    assert legacy.status_code == 302 and legacy["Location"] == f"{INVITATION}#abc:def:ghi"


def test_a_weak_password_is_refused_with_the_reason(billing_client):
    contact = ContactFactory()
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    _web, response = _accept(_link(mail.outbox[0]), password="123")
    assert response.status_code == 400 and "too short" in response.content.decode()


def test_invite_all_contacts_of_an_organization(billing_client):
    org = OrganizationFactory()
    ContactFactory(organization=org, email="a@org.example")
    ContactFactory(organization=org, email="b@org.example")
    ContactFactory(organization=org, email="")  # no e-mail: not invited
    ContactFactory(organization=org, email="A@org.example")  # the same person twice in BMS
    ContactFactory(organization=org, email="c@org.example", is_active=False)
    ContactFactory(email="other@elsewhere.example")  # another organization
    UserFactory(email="b@org.example", role=Role.CLIENT_CONTACT, organization=org)  # already has access
    url = reverse("portal:invite-organization", args=[org.pk])
    response = billing_client.post(url, follow=True)
    assert sorted(m.to[0] for m in mail.outbox) == ["a@org.example"]
    assert "1 invitation queued. Skipped 1 already with portal access: b@org.example." in response.content.decode()
    # A double click sends nothing more.
    billing_client.post(url)
    assert len(mail.outbox) == 1


def test_an_address_of_staff_or_of_another_organization_is_not_invited(billing_client, admin_user):
    staff_contact = ContactFactory(email=admin_user.email)
    other = UserFactory(role=Role.CLIENT_CONTACT, organization=OrganizationFactory(), email="shared@x.example")
    moved = ContactFactory(email=other.email)
    for contact in (staff_contact, moved):
        response = billing_client.post(reverse("portal:invite-contact", args=[contact.pk]), follow=True)
        assert "not sent" in response.content.decode()
    assert mail.outbox == []
    other.refresh_from_db()
    assert other.organization != moved.organization


def test_the_client_access_page_shows_status(billing_client):
    org = OrganizationFactory(name="Globex")
    ContactFactory(organization=org, email="has@globex.example")
    ContactFactory(organization=org, email="new@globex.example")
    UserFactory(email="has@globex.example", role=Role.CLIENT_CONTACT, organization=org)
    html = billing_client.get(reverse("portal:client-access"), {"organization": org.pk}).content.decode()
    assert "Has access" in html and "Not invited" in html and "Invite all contacts of Globex" in html


def test_password_reset_for_a_client(db):
    org = OrganizationFactory()
    UserFactory(email="pat@client.example", role=Role.CLIENT_CONTACT, organization=org)
    web = Client()
    assert web.post(reverse("accounts:password-reset"), {"email": "pat@client.example"}).status_code == 302
    [message] = mail.outbox
    link = re.search(r"http://testserver(\S+)", message.body).group(1)
    form = web.get(link, follow=True)  # Django redirects to the set-password URL
    assert form.status_code == 200
    set_url = form.redirect_chain[-1][0]
    done = web.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert Client().login(username="pat@client.example", password=NEW_PASSWORD)
    # An unknown address gets the same answer and no e-mail.
    assert web.post(reverse("accounts:password-reset"), {"email": "nobody@x.example"}).status_code == 302
    assert len(mail.outbox) == 1


def test_a_contact_requests_access(db, django_capture_on_commit_callbacks):
    contact = ContactFactory(email="kim@client.example")
    received = []
    portal_access_requested.connect(
        lambda sender, access_request, **kw: received.append(access_request), weak=False, dispatch_uid="test-access"
    )
    try:
        data = {"full_name": "Kim", "email": "KIM@client.example", "company": "Client", "message": "Please"}
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post(reverse("portal:request-access"), data)
            Client().post(reverse("portal:request-access"), data)  # a second click
        assert response.status_code == 200 and "will review your request" in response.content.decode()
        request = PortalAccessRequest.objects.get()
        assert (request.email, request.organization, request.contact) == (
            "kim@client.example",
            contact.organization,
            contact,
        )
        assert received == [request]
        with django_capture_on_commit_callbacks(execute=True):
            Client().post(reverse("portal:request-access"), {**data, "email": "stranger@nowhere.example"})
        assert received[-1].organization is None and len(received) == 2
    finally:
        portal_access_requested.disconnect(dispatch_uid="test-access")


def test_an_invalid_access_request_is_refused(db):
    response = Client().post(reverse("portal:request-access"), {"full_name": "", "email": "not-an-email"})
    assert response.status_code == 400
    assert not PortalAccessRequest.objects.exists()


def test_staff_invite_from_an_access_request(billing_client):
    contact = ContactFactory(email="lee@client.example")
    Client().post(reverse("portal:request-access"), {"full_name": "Lee", "email": "lee@client.example"})
    request = PortalAccessRequest.objects.get()
    assert "lee@client.example" in billing_client.get(reverse("portal:client-access")).content.decode()
    billing_client.post(reverse("portal:access-request-invite", args=[request.pk]))
    request.refresh_from_db()
    assert request.status == AccessRequestStatus.INVITED
    assert mail.outbox[0].to == [contact.email]


def test_client_sign_in_is_rate_limited(db, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    UserFactory(email="c@client.example", role=Role.CLIENT_CONTACT, organization=OrganizationFactory())
    web = Client()
    for _ in range(3):
        web.post(reverse("accounts:login"), {"username": "c@client.example", "password": "wrong"})
    locked = web.post(reverse("accounts:login"), {"username": "c@client.example", "password": DEFAULT_PASSWORD})
    assert locked.status_code == 200 and "Too many failed sign-in attempts" in locked.content.decode()


def test_client_sessions_expire(db, client_of, settings):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    _user, web = client_of(OrganizationFactory())
    assert web.get(reverse("client:invoices")).status_code == 200
    session = Session.objects.get()
    assert session.expire_date <= timezone.now() + timezone.timedelta(seconds=settings.SESSION_COOKIE_AGE + 5)
    session.expire_date = timezone.now() - timezone.timedelta(seconds=1)
    session.save()
    # Sessions are cached_db: the cached copy expires with the same age; drop it here.
    from django.core.cache import cache

    cache.clear()
    response = web.get(reverse("client:invoices"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("name", ["accounts:password-reset", "portal:request-access"])
def test_the_sign_in_page_links_to_reset_and_request_access(db, name):
    assert reverse(name) in Client().get(reverse("accounts:login")).content.decode()
