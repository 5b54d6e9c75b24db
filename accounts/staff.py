"""Staff accounts, managed by a Master Admin on the Users page: invite by e-mail with a
role, change a role, deactivate, reactivate.

Invariants:
- There is always at least one active Master Admin: the last one can be neither demoted
  nor deactivated (StaffChangeRefused, nothing changed). The check locks the active
  Master Admins' rows, so two admins demoting each other at once cannot both succeed.
- Deactivating ends the user's sessions at once: every session row of the user is deleted
  from the database and its cached copy from Redis (core.sessions). The auth backend also
  refuses an inactive user on every request, so a cached copy that survived a Redis outage
  signs nobody in.
- A staff invitation is the client-portal mechanism with a staff role: a signed token
  (accounts.invitation_tokens, its own salt) after "#" in the link, valid 7 days, single
  use, only the newest works. It is e-mailed by a Celery task queued on commit, which loads
  the invitation by id and sends it only if it was not sent yet.
- Only staff accounts are managed here; client contacts are managed from Client portal access.
- Every change is audited.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.invitation_tokens import (
    TokenExpired,
    TokenInvalid,
    account_state,
    invitation_token_read,
    invitation_token_sign,
)
from accounts.models import STAFF_ROLES, Role, StaffInvitation, User
from accounts.services import audit_record
from core.redis import REDIS_DOWN

logger = logging.getLogger(__name__)

STAFF_INVITATION_MAX_AGE = timedelta(days=7)
_SALT = "accounts.staff-invitation"


class StaffChangeRefused(Exception):
    """The change is not allowed; the message says why, for the Master Admin."""


class StaffInvitationInvalid(Exception):
    """The link is not one we issued, or can no longer be used (message for the visitor)."""


class StaffInvitationExpired(StaffInvitationInvalid):
    pass


def _role_label(role: str) -> str:
    return Role(role).label


def _refuse_losing_the_last_master_admin(user: User) -> None:
    """Raise unless another active Master Admin remains (their rows locked until commit)."""
    others = list(
        User.objects.select_for_update()
        .filter(role=Role.MASTER_ADMIN, is_active=True)
        .exclude(pk=user.pk)
        .values_list("pk", flat=True)
    )
    if not others:
        raise StaffChangeRefused(
            _("%(email)s is the last active Master Admin: make another user Master Admin first.")
            % {"email": user.email}
        )


def _staff(user: User) -> None:
    if user.role not in STAFF_ROLES:
        raise StaffChangeRefused(
            _("%(email)s is a client contact: manage it from Client portal access.") % {"email": user.email}
        )


# --- invitations ------------------------------------------------------------------------------


@transaction.atomic
def staff_invite(*, email: str, role: str, full_name: str = "", actor: User) -> StaffInvitation:
    """Create the staff account (no password yet) or find one not yet accepted, and queue the
    invitation e-mail."""
    if role not in STAFF_ROLES:
        raise StaffChangeRefused(_("Choose Master Admin or Billing staff."))
    email = User.objects.normalize_email(email).strip().lower()
    user = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email, None, role=role, full_name=full_name[:200])
    elif user.role not in STAFF_ROLES:
        raise StaffChangeRefused(_("%(email)s is a client contact's address.") % {"email": email})
    elif user.has_usable_password() or not user.is_active:
        raise StaffChangeRefused(
            _("%(email)s already has an account: change its role or reactivate it below.") % {"email": email}
        )
    else:
        user.role = role
        if full_name:
            user.full_name = full_name[:200]
        user.save(update_fields=["role", "full_name"])
    invitation = StaffInvitation.objects.create(user=user, role=role, invited_by=actor)
    audit_record(
        actor=actor,
        action="accounts.staff_invitation.queued",
        target=email,
        summary=f"Invited {email} as {_role_label(role)}",
        role=role,
        invitation_id=invitation.pk,
    )
    transaction.on_commit(lambda: _enqueue(invitation.pk))
    return invitation


def _enqueue(invitation_id: int) -> None:
    from accounts.tasks import staff_invitation_send_task  # why: tasks.py imports this module

    try:
        staff_invitation_send_task.delay(invitation_id)
    except Exception:  # broker down: the Master Admin can invite again
        logger.exception("Could not queue the staff invitation %s", invitation_id)


def staff_invitation_url(invitation: StaffInvitation) -> str:
    token = invitation_token_sign(user=invitation.user, invitation_id=invitation.pk, salt=_SALT)
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{reverse('accounts:staff-invitation')}#{token}"


def staff_invitation_send(*, invitation_id: int) -> bool:
    """E-mail the invitation unless it already went out (exactly once per invitation: the
    row is locked while sending, and marked sent in the same transaction). True when sent."""
    with transaction.atomic():
        invitation = (
            StaffInvitation.objects.select_for_update(of=("self",))
            .select_related("user")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.emailed_at is not None or invitation.accepted_at is not None:
            return False
        user = invitation.user
        if not user.is_active:  # deactivated since: the link would not work
            return False
        context = {
            "msp_name": settings.MSP_NAME,
            "name": user.full_name or user.email,
            "role": _role_label(invitation.role),
            "url": staff_invitation_url(invitation),
            "expires": timezone.localtime(invitation.created_at + STAFF_INVITATION_MAX_AGE),
        }
        message = EmailMultiAlternatives(
            subject=f"{settings.MSP_NAME}: your staff account on the billing portal",
            body=render_to_string("accounts/email/staff_invitation.txt", context),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[user.email],
        )
        message.send()
        invitation.emailed_at = timezone.now()
        invitation.save(update_fields=["emailed_at"])
        audit_record(
            actor=invitation.invited_by,
            action="accounts.staff_invitation.sent",
            target=user.email,
            summary=f"Staff invitation e-mailed to {user.email}",
            invitation_id=invitation.pk,
        )
    return True


def staff_invitation_send_failed(*, invitation_id: int, reason: str) -> None:
    """Every attempt failed: record why (the Master Admin can invite again)."""
    invitation = StaffInvitation.objects.select_related("user").filter(pk=invitation_id, emailed_at=None).first()
    if invitation is None:
        return
    logger.warning("Could not send the staff invitation to %s: %s", invitation.user.email, reason)
    audit_record(
        actor=invitation.invited_by,
        action="accounts.staff_invitation.failed",
        target=invitation.user.email,
        summary=f"Could not e-mail the staff invitation to {invitation.user.email}",
        reason=reason[:300],
    )


_USED = gettext_lazy(
    "This invitation was already used: your password is set. Sign in, or reset your password if you forgot it."
)


def staff_invitation_user_for_token(token: str) -> User:
    try:
        data = invitation_token_read(token, salt=_SALT, max_age=STAFF_INVITATION_MAX_AGE)
    except TokenExpired:
        raise StaffInvitationExpired(_("This invitation link has expired: links are valid for 7 days.")) from None
    except TokenInvalid:
        raise StaffInvitationInvalid(_("This invitation link is not valid.")) from None
    user = User.objects.filter(pk=data.get("u"), role__in=STAFF_ROLES, is_active=True).first()
    invitation = StaffInvitation.objects.filter(pk=data.get("i"), user=user).first() if user else None
    if user is None or invitation is None:
        raise StaffInvitationInvalid(_("This invitation link is not valid."))
    if invitation.accepted_at is not None or account_state(user) != data.get("s"):
        raise StaffInvitationInvalid(_USED)
    if StaffInvitation.objects.filter(user=user, pk__gt=invitation.pk).exists():
        raise StaffInvitationInvalid(
            _("This invitation was replaced by a newer one: use the link in the most recent invitation e-mail.")
        )
    return user


@transaction.atomic
def staff_invitation_accept(*, user: User, password: str) -> User:
    """Set the invited staff member's password (validated by the caller's form)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    StaffInvitation.objects.filter(user=user, accepted_at__isnull=True).update(accepted_at=timezone.now())
    audit_record(
        actor=user, action="accounts.staff_invitation.accepted", target=user.email, summary=f"{user.email} joined"
    )
    return user


# --- role, deactivation ---------------------------------------------------------------------


@transaction.atomic
def user_role_change(*, user: User, role: str, actor: User) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    _staff(user)
    if role not in STAFF_ROLES:
        raise StaffChangeRefused(_("Choose Master Admin or Billing staff."))
    if role == user.role:
        return user
    if user.role == Role.MASTER_ADMIN and user.is_active:
        _refuse_losing_the_last_master_admin(user)
    before = user.role
    user.role = role
    user.save(update_fields=["role"])
    audit_record(
        actor=actor,
        action="accounts.user.role_changed",
        target=user.email,
        summary=f"{user.email}: {_role_label(before)} → {_role_label(role)}",
        before=before,
        after=role,
    )
    return user


@transaction.atomic
def user_deactivate(*, user: User, actor: User) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    _staff(user)
    if not user.is_active:
        return user
    if user.role == Role.MASTER_ADMIN:
        _refuse_losing_the_last_master_admin(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    ended = user_sessions_end(user=user)
    audit_record(
        actor=actor,
        action="accounts.user.deactivated",
        target=user.email,
        summary=f"Deactivated {user.email}; {ended} session{'s' if ended != 1 else ''} ended",
        sessions_ended=ended,
    )
    return user


@transaction.atomic
def user_reactivate(*, user: User, actor: User) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    _staff(user)
    if user.is_active:
        return user
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(
        actor=actor, action="accounts.user.reactivated", target=user.email, summary=f"Reactivated {user.email}"
    )
    return user


def user_sessions_end(*, user: User) -> int:
    """Delete every session of ``user``: the cached copy (Redis) and the database row.

    Sessions are not indexed by user, so the unexpired ones are decoded one by one: fine for
    an MSP's few hundred sessions, and only run on a deactivation."""
    # The engine's own class: its name salts the signature the session data is decoded with.
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    ended = 0
    for key, data in (
        Session.objects.filter(expire_date__gt=timezone.now()).values_list("session_key", "session_data").iterator()
    ):
        if store.decode(data).get("_auth_user_id") != str(user.pk):
            continue
        try:
            store._cache.delete(store.cache_key_prefix + key)
        except REDIS_DOWN:  # the backend refuses the inactive user anyway
            logger.warning("Could not drop the cached copy of an ended session: Redis is unavailable.")
        Session.objects.filter(session_key=key).delete()
        ended += 1
    return ended
