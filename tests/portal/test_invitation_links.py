"""Invitation links (hardening item 13): the token never travels in a URL the server sees
(it is after "#", and the page posts it), a link works once, and an earlier invitation
replaced by a newer one says so. Links e-mailed before (token in the path) keep working."""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse

from accounts.invitation_tokens import account_state as _state
from accounts.models import User
from portal.invitations import _SALT
from portal.models import PortalInvitation
from tests.billing.factories import ContactFactory

INVITATION = reverse("portal:invitation")
PASSWORD = "blue-harbor-lantern-42"
PASSWORDS = {"new_password1": PASSWORD, "new_password2": PASSWORD}

# Invitations are e-mailed by a Celery task queued on commit: these tests commit (a
# transactional database) and run the task at once in this process (eager), as a worker would.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_run_at_once():
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _invite(billing_client, contact) -> str:
    """Invite the contact; the link of the e-mail just sent."""
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    return re.search(r"https?://\S+", mail.outbox[-1].body).group(0)


def test_hardening_13_the_invitation_token_stays_out_of_request_lines_and_works_once(billing_client):
    contact = ContactFactory(email="dana@client.example")
    link = _invite(billing_client, contact)
    parts = urlsplit(link)
    token = parts.fragment
    # What a browser sends for the link: the path only. The token is after "#".
    assert token and parts.path == INVITATION and not parts.query
    assert f'href="{link}"' in mail.outbox[0].alternatives[0][0]  # the HTML part: the same link

    web = Client()
    page = web.get(parts.path)
    assert page.status_code == 200 and "js/invitation.js" in page.content.decode()
    shown = web.post(parts.path, {"token": token})  # what the page's script sends
    assert shown.status_code == 200 and "dana@client.example" in shown.content.decode()
    accepted = web.post(parts.path, {"token": token, **PASSWORDS})
    assert accepted.status_code == 302 and accepted["Location"] == reverse("client:invoices")
    assert web.get(reverse("client:invoices")).status_code == 200

    # Used: it says so, on opening and on posting a password.
    again = Client().post(INVITATION, {"token": token})
    assert again.status_code == 400 and "already used" in again.content.decode()
    replay = Client().post(
        INVITATION, {"token": token, "new_password1": "x-" + PASSWORD, "new_password2": "x-" + PASSWORD}
    )
    assert replay.status_code == 400 and "already used" in replay.content.decode()
    assert User.objects.get(email="dana@client.example").check_password(PASSWORD)


def test_hardening_13_an_invitation_replaced_by_a_newer_one_says_so(billing_client):
    contact = ContactFactory(email="lee@client.example")
    first = urlsplit(_invite(billing_client, contact)).fragment
    PortalInvitation.objects.update(sent_at=PortalInvitation.objects.get().sent_at - timedelta(minutes=10))
    second = urlsplit(_invite(billing_client, contact)).fragment
    assert len(mail.outbox) == 2 and first != second

    replaced = Client().post(INVITATION, {"token": first, **PASSWORDS})
    assert replaced.status_code == 400 and "replaced by a newer one" in replaced.content.decode()
    assert not User.objects.get(email="lee@client.example").has_usable_password()
    assert Client().post(INVITATION, {"token": second, **PASSWORDS}).status_code == 302
    assert "already used" in Client().post(INVITATION, {"token": first}).content.decode()


def test_a_link_e_mailed_before_keeps_working_once(billing_client):
    """Links sent before the token moved after "#": /accounts/invitation/<token>/, no invitation id."""
    contact = ContactFactory(email="kim@client.example")
    _invite(billing_client, contact)
    user = User.objects.get(email="kim@client.example")
    legacy_token = signing.dumps({"u": user.pk, "s": _state(user)}, salt=_SALT)
    legacy = reverse("portal:invitation-accept", args=[legacy_token])

    opened = Client().get(legacy)
    assert opened.status_code == 302 and opened["Location"] == f"{INVITATION}#{legacy_token}"
    web = Client()
    assert "kim@client.example" in web.post(INVITATION, {"token": legacy_token}).content.decode()
    assert web.post(legacy, PASSWORDS).status_code == 302  # a form rendered at the old address
    assert "already used" in Client().post(INVITATION, {"token": legacy_token}).content.decode()


def test_the_page_without_a_token_asks_for_the_link(db):
    response = Client().post(INVITATION, {"token": ""})
    assert response.status_code == 400 and "Open the link from your invitation e-mail" in response.content.decode()


def test_a_failed_send_leaves_the_earlier_link_working(billing_client, monkeypatch):
    contact = ContactFactory(email="sam@client.example")
    first = urlsplit(_invite(billing_client, contact)).fragment
    PortalInvitation.objects.update(sent_at=PortalInvitation.objects.get().sent_at - timedelta(minutes=10))

    def refuse(self, messages):
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    billing_client.post(reverse("portal:invite-contact", args=[contact.pk]))
    assert PortalInvitation.objects.count() == 1
    assert "sam@client.example" in Client().post(INVITATION, {"token": first}).content.decode()
