"""Users: the Master Admin invites staff (queued, e-mailed by a worker exactly once),
changes roles, deactivates (sessions end at once) and reactivates; the last active Master
Admin stays; every change is audited. And the create_staff_user command."""

import re
from io import StringIO
from urllib.parse import urlsplit

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent, Role, StaffInvitation, User
from accounts.staff import staff_invitation_send
from accounts.tasks import staff_invitation_send_task
from core.sessions import SessionStore
from tests.factories import DEFAULT_PASSWORD, UserFactory

USERS = reverse("accounts:users")


@pytest.fixture
def eager(settings):
    from connectbooster.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def _invite(admin_client, django_capture_on_commit_callbacks, **data):
    with django_capture_on_commit_callbacks(execute=True):
        return admin_client.post(reverse("accounts:user-invite"), {"role": Role.BILLING_STAFF, **data}, follow=True)


def test_the_users_page_offers_invite_role_and_deactivation(admin_client, admin_user, billing_user):
    page = admin_client.get(USERS).content.decode()
    assert 'data-testid="staff-invite"' in page
    assert reverse("accounts:user-role", args=[billing_user.pk]) in page
    assert reverse("accounts:user-deactivate", args=[billing_user.pk]) in page


def test_the_audit_log_has_its_export_button(admin_client):
    assert (
        f'href="{reverse("accounts:audit-export")}" download>Export CSV'
        in admin_client.get(reverse("accounts:audit")).content.decode()
    )


def test_an_invited_staff_member_sets_a_password_once_and_signs_in(
    admin_client, admin_user, eager, django_capture_on_commit_callbacks
):
    response = _invite(admin_client, django_capture_on_commit_callbacks, email="New@Example.com", full_name="Ann")
    assert "Invitation to new@example.com queued" in _messages(response)
    user = User.objects.get(email="new@example.com")
    assert user.role == Role.BILLING_STAFF and not user.has_usable_password()
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    link = re.search(r"https?://\S+", mail.outbox[0].body).group(0)
    assert urlsplit(link).path == reverse("accounts:staff-invitation") and urlsplit(link).fragment
    token = urlsplit(link).fragment

    web = Client()
    assert web.get(reverse("accounts:staff-invitation")).status_code == 200
    assert "Choose a password" in web.post(reverse("accounts:staff-invitation"), {"token": token}).content.decode()
    new = "a-long-staff-passphrase"
    done = web.post(reverse("accounts:staff-invitation"), {"token": token, "new_password1": new, "new_password2": new})
    assert done.status_code == 302
    assert web.get(reverse("integrations:list")).status_code == 200  # signed in as Billing staff
    assert web.get(USERS).status_code == 403
    again = Client().post(reverse("accounts:staff-invitation"), {"token": token})
    assert again.status_code == 400 and "already used" in again.content.decode()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"accounts.staff_invitation.queued", "accounts.staff_invitation.sent"} <= actions
    assert "accounts.staff_invitation.accepted" in actions


def test_a_client_portal_token_is_not_a_staff_token(admin_client, eager, django_capture_on_commit_callbacks):
    _invite(admin_client, django_capture_on_commit_callbacks, email="new@example.com")
    token = urlsplit(re.search(r"https?://\S+", mail.outbox[0].body).group(0)).fragment
    assert Client().post(reverse("portal:invitation"), {"token": token}).status_code == 400


def test_a_weak_password_is_refused_on_the_invitation_page(admin_client, eager, django_capture_on_commit_callbacks):
    _invite(admin_client, django_capture_on_commit_callbacks, email="new@example.com")
    token = urlsplit(re.search(r"https?://\S+", mail.outbox[0].body).group(0)).fragment
    response = Client().post(
        reverse("accounts:staff-invitation"), {"token": token, "new_password1": "123", "new_password2": "123"}
    )
    assert response.status_code == 400
    assert not User.objects.get(email="new@example.com").has_usable_password()


def test_the_invitation_task_sends_each_invitation_exactly_once(admin_user, eager, django_capture_on_commit_callbacks):
    user = UserFactory(email="x@example.com", role=Role.BILLING_STAFF, password=None)
    invitation = StaffInvitation.objects.create(user=user, role=Role.BILLING_STAFF, invited_by=admin_user)
    staff_invitation_send_task.delay(invitation.pk)
    staff_invitation_send_task.delay(invitation.pk)  # a duplicate delivery of the task
    assert staff_invitation_send(invitation_id=invitation.pk) is False
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.emailed_at is not None


def test_a_failed_invitation_e_mail_is_retried_then_audited(admin_user, eager, monkeypatch):
    user = UserFactory(email="x@example.com", role=Role.BILLING_STAFF, password=None)
    invitation = StaffInvitation.objects.create(user=user, role=Role.BILLING_STAFF, invited_by=admin_user)
    attempts = []

    def refuse(self, messages):
        attempts.append(1)
        raise OSError("SMTP down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    staff_invitation_send_task.delay(invitation.pk)
    assert len(attempts) == staff_invitation_send_task.max_retries + 1
    failed = AuditEvent.objects.get(action="accounts.staff_invitation.failed")
    assert failed.target == "x@example.com" and "SMTP down" in failed.details["reason"]


def test_inviting_an_existing_account_or_a_client_is_refused(
    admin_client, billing_user, client_user, django_capture_on_commit_callbacks
):
    response = _invite(admin_client, django_capture_on_commit_callbacks, email=billing_user.email)
    assert "already has an account" in _messages(response)
    response = _invite(admin_client, django_capture_on_commit_callbacks, email=client_user.email)
    assert "client contact" in _messages(response)
    assert not StaffInvitation.objects.exists()


def test_an_invalid_invitation_form_says_why(admin_client):
    response = admin_client.post(
        reverse("accounts:user-invite"), {"email": "not-an-address", "role": "nope"}, follow=True
    )
    assert "Nothing was sent. E-mail: Enter a valid email address." in _messages(response)
    assert not StaffInvitation.objects.exists()


def test_a_role_change_is_audited_and_applies_at_once(admin_client, admin_user, billing_user):
    web = Client()
    web.force_login(billing_user)
    assert web.get(USERS).status_code == 403
    response = admin_client.post(
        reverse("accounts:user-role", args=[billing_user.pk]), {"role": Role.MASTER_ADMIN}, follow=True
    )
    assert "is now Master Admin" in _messages(response)
    assert web.get(USERS).status_code == 200
    event = AuditEvent.objects.get(action="accounts.user.role_changed")
    assert event.actor == admin_user and event.details == {"before": "billing_staff", "after": "master_admin"}


def test_the_last_active_master_admin_can_be_neither_demoted_nor_deactivated(admin_client, admin_user):
    UserFactory(role=Role.MASTER_ADMIN, is_active=False)  # an inactive one does not count
    response = admin_client.post(
        reverse("accounts:user-role", args=[admin_user.pk]), {"role": Role.BILLING_STAFF}, follow=True
    )
    assert "last active Master Admin" in _messages(response)
    response = admin_client.post(reverse("accounts:user-deactivate", args=[admin_user.pk]), follow=True)
    assert "last active Master Admin" in _messages(response)
    admin_user.refresh_from_db()
    assert admin_user.role == Role.MASTER_ADMIN and admin_user.is_active
    assert not AuditEvent.objects.filter(action__startswith="accounts.user.").exists()


def test_with_another_master_admin_one_may_be_demoted(admin_client, admin_user):
    other = UserFactory(role=Role.MASTER_ADMIN)
    admin_client.post(reverse("accounts:user-role", args=[other.pk]), {"role": Role.BILLING_STAFF})
    other.refresh_from_db()
    assert other.role == Role.BILLING_STAFF


def test_deactivation_ends_the_users_sessions_at_once_in_the_database_and_redis(admin_client, admin_user):
    staff = UserFactory(email="leaver@example.com", role=Role.BILLING_STAFF)
    web = Client()
    assert (
        web.post(reverse("accounts:login"), {"username": staff.email, "password": DEFAULT_PASSWORD}).status_code == 302
    )
    key = web.session.session_key
    store = SessionStore()
    assert store._cache.get(store.cache_key_prefix + key) is not None  # cached copy in Redis
    assert web.get(reverse("integrations:list")).status_code == 200

    response = admin_client.post(reverse("accounts:user-deactivate", args=[staff.pk]), follow=True)
    assert "signed out everywhere" in _messages(response)
    assert not Session.objects.filter(session_key=key).exists()
    assert store._cache.get(store.cache_key_prefix + key) is None
    assert web.get(reverse("integrations:list")).status_code == 302  # to the sign-in page
    # The admin's own session is untouched.
    assert admin_client.get(USERS).status_code == 200
    event = AuditEvent.objects.get(action="accounts.user.deactivated")
    assert event.details == {"sessions_ended": 1}
    # Nor can the user sign in again, until reactivated.
    assert (
        web.post(reverse("accounts:login"), {"username": staff.email, "password": DEFAULT_PASSWORD}).status_code == 200
    )
    admin_client.post(reverse("accounts:user-reactivate", args=[staff.pk]))
    assert (
        web.post(reverse("accounts:login"), {"username": staff.email, "password": DEFAULT_PASSWORD}).status_code == 302
    )
    assert AuditEvent.objects.filter(action="accounts.user.reactivated", target=staff.email).exists()


def test_client_contacts_are_not_managed_here(admin_client, client_user):
    response = admin_client.post(reverse("accounts:user-deactivate", args=[client_user.pk]), follow=True)
    assert "Client portal access" in _messages(response)
    client_user.refresh_from_db()
    assert client_user.is_active


# --- manage.py create_staff_user --------------------------------------------------------------


def test_create_staff_user_from_the_environment(db, monkeypatch):
    monkeypatch.setenv("PORTAL_STAFF_PASSWORD", "billing-team-passphrase")
    out = StringIO()
    call_command("create_staff_user", "--email", "Books@Example.com", "--role", "billing_staff", stdout=out)
    user = User.objects.get(email="books@example.com")
    assert user.role == Role.BILLING_STAFF and user.check_password("billing-team-passphrase")
    assert not user.is_superuser
    assert "billing-team-passphrase" not in out.getvalue()
    event = AuditEvent.objects.get(action="accounts.user.created")
    assert "billing-team-passphrase" not in f"{event.summary} {event.details}"


def test_create_staff_user_prompts_and_refuses_a_weak_password(db, monkeypatch):
    monkeypatch.delenv("PORTAL_STAFF_PASSWORD", raising=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "password")
    with pytest.raises(CommandError, match="refused"):
        call_command("create_staff_user", "--email", "boss@example.com", "--role", "master_admin")
    assert not User.objects.exists()
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "owner-strong-passphrase")
    call_command("create_staff_user", "--email", "boss@example.com", "--role", "master_admin", stdout=StringIO())
    assert User.objects.get(email="boss@example.com").is_master_admin


def test_create_staff_user_refuses_an_existing_address_and_a_client_role(db, monkeypatch, admin_user):
    monkeypatch.setenv("PORTAL_STAFF_PASSWORD", "billing-team-passphrase")
    with pytest.raises(CommandError, match="already has an account"):
        call_command("create_staff_user", "--email", admin_user.email, "--role", "billing_staff")
    with pytest.raises(CommandError):
        call_command("create_staff_user", "--email", "c@example.com", "--role", "client_contact")


def test_with_redis_down_deactivation_still_ends_the_sessions(admin_client, monkeypatch):
    from django.conf import settings
    from django.core.cache import caches

    from core.redis import REDIS_DOWN

    staff = UserFactory(role=Role.BILLING_STAFF)
    web = Client()
    web.post(reverse("accounts:login"), {"username": staff.email, "password": DEFAULT_PASSWORD})
    key = web.session.session_key

    def redis_down(*args, **kwargs):
        raise REDIS_DOWN[0]("Redis is down")

    monkeypatch.setattr(caches[settings.SESSION_CACHE_ALIAS], "delete", redis_down)
    response = admin_client.post(reverse("accounts:user-deactivate", args=[staff.pk]), follow=True)
    assert "signed out everywhere" in _messages(response), _messages(response)
    assert not Session.objects.filter(session_key=key).exists()
    monkeypatch.undo()
    # The cached copy survived the outage, and still signs nobody in: the user is inactive.
    store = SessionStore()
    assert store._cache.get(store.cache_key_prefix + key) is not None
    assert web.get(reverse("integrations:list")).status_code == 302
