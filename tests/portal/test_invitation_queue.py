"""Bulk invitations are e-mailed by Celery workers: the request only queues one task per
invitation on commit; the task sends an invitation exactly once."""

from unittest import mock

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent
from portal.invitations import contacts_invite
from portal.models import PortalInvitation
from portal.tasks import invitation_send_task
from tests.billing.factories import ContactFactory, OrganizationFactory


@pytest.fixture
def eager():
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _smtp_must_not_be_called(self, messages):
    raise AssertionError("an SMTP call inside the web request")


def test_inviting_an_organization_queues_one_task_per_invitation_on_commit(
    billing_client, monkeypatch, django_capture_on_commit_callbacks
):
    org = OrganizationFactory()
    for name in "abc":
        ContactFactory(organization=org, email=f"{name}@org.example")
    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", _smtp_must_not_be_called)
    with mock.patch.object(invitation_send_task, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            response = billing_client.post(reverse("portal:invite-organization", args=[org.pk]), follow=True)
            assert delay.call_count == 0  # nothing is queued before the transaction commits
        assert "3 invitations queued." in response.content.decode()
        for callback in callbacks:
            callback()
    invitations = PortalInvitation.objects.order_by("pk")
    assert sorted(call.args for call in delay.call_args_list) == [(i.pk,) for i in invitations]
    assert all(i.emailed_at is None for i in invitations)
    assert mail.outbox == []


def test_the_task_sends_each_invitation_exactly_once(billing_user, eager, django_capture_on_commit_callbacks):
    contact = ContactFactory(email="dana@client.example")
    with django_capture_on_commit_callbacks(execute=True):
        contacts_invite(contacts=[contact], actor=billing_user)
    invitation = PortalInvitation.objects.get()
    assert invitation.emailed_at is not None and len(mail.outbox) == 1
    invitation_send_task.delay(invitation.pk)  # the same task delivered again
    invitation_send_task.delay(invitation.pk)
    assert len(mail.outbox) == 1
    sent = AuditEvent.objects.get(action="portal.invitation.sent")
    assert sent.actor == billing_user and sent.details["resent"] is False


def test_an_invitation_replaced_before_it_went_out_is_not_sent(billing_user, eager):
    contact = ContactFactory(email="dana@client.example")
    contacts_invite(contacts=[contact], actor=billing_user)  # not committed: its task never ran
    first = PortalInvitation.objects.get()
    second = PortalInvitation.objects.create(user=first.user, contact=contact, invited_by=billing_user)
    invitation_send_task.delay(first.pk)
    assert mail.outbox == []
    invitation_send_task.delay(second.pk)
    assert len(mail.outbox) == 1 and "/accounts/invitation/#" in mail.outbox[0].body


def test_when_every_attempt_fails_the_invitation_is_dropped_and_audited(billing_user, eager, monkeypatch):
    contact = ContactFactory(email="dana@client.example")
    contacts_invite(contacts=[contact], actor=billing_user)
    invitation = PortalInvitation.objects.get()
    attempts = []

    def refuse(self, messages):
        attempts.append(1)
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    invitation_send_task.delay(invitation.pk)
    assert len(attempts) == invitation_send_task.max_retries + 1
    assert not PortalInvitation.objects.exists()
    failed = AuditEvent.objects.get(action="portal.invitation.failed")
    assert failed.target == "dana@client.example" and "SMTP down" in failed.details["reason"]
