"""Client-portal invitations: staff invite synced BMS contacts; the e-mail carries a signed
link valid for 7 days with which the contact sets a password.

Invariants:
- The token is signed (accounts.invitation_tokens, shared with staff invitations) over the
  user id, the invitation's id and a digest of the account's state (password hash, last
  sign-in): setting the password makes every link of that user invalid, so a link works
  once ("already used").
- Only the newest invitation of a user works: an earlier one says it was replaced.
- The token never travels in a URL the server sees: the link is
  ``<PORTAL_BASE_URL>/accounts/invitation/#<token>``; browsers do not send the part after
  "#", and the page posts it (portal.views.InvitationView), so it stays out of access
  logs, proxies and Referer headers. Links e-mailed before, with the token in the path
  (no invitation id), keep working until they expire, are used, or a newer one is sent.
- Invitations are e-mailed by Celery workers, one task per invitation queued on commit;
  the task loads the invitation by id and e-mails it only if it was not e-mailed yet
  (``emailed_at``), so each goes out once. When every attempt fails, the invitation is
  deleted and the earlier link (if any) works again.
- A contact whose access was revoked (portal.services) is invited again only when staff
  invite that contact (or their access request) on purpose, never by "Invite all": the
  account is reactivated without a password, so access returns once the new link is used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from accounts.invitation_tokens import (
    TokenExpired,
    TokenInvalid,
    account_state,
    invitation_token_read,
    invitation_token_sign,
)
from accounts.models import Role, User
from accounts.services import audit_record
from organizations.models import Contact, Organization
from portal.models import PortalInvitation

logger = logging.getLogger(__name__)

INVITATION_MAX_AGE = timedelta(days=7)
# Named after the module the tokens were first issued by: links already sent must keep working.
_SALT = "accounts.invitation"
# An invitation to the same person this soon after the last one is not sent again (double clicks).
RESEND_AFTER = timedelta(seconds=60)


class InvitationInvalid(Exception):
    """The link is not one we issued, or can no longer be used."""


class InvitationExpired(InvitationInvalid):
    """The link is older than 7 days."""


class InvitationUsed(InvitationInvalid):
    """The password was set (with this link or otherwise)."""


class InvitationSuperseded(InvitationInvalid):
    """A newer invitation was sent to the same person."""


@dataclass(frozen=True)
class InviteOutcome:
    contact: Contact
    status: str  # invited | resent (both queued) | has_access | revoked | recent | skipped
    detail: str

    @property
    def sent(self) -> bool:
        return self.status in {"invited", "resent"}


def invitation_token_make(user: User, invitation: PortalInvitation) -> str:
    return invitation_token_sign(user=user, invitation_id=invitation.pk, salt=_SALT)


_USED = gettext_lazy(
    "This invitation was already used: your password is set. Sign in, or reset your password if you forgot it."
)


def invitation_user_for_token(token: str) -> User:
    """The invited client contact, or InvitationExpired / InvitationUsed /
    InvitationSuperseded / InvitationInvalid, each with a message for the visitor."""
    try:
        data = invitation_token_read(token, salt=_SALT, max_age=INVITATION_MAX_AGE)
    except TokenExpired:
        raise InvitationExpired(_("This invitation link has expired: links are valid for 7 days.")) from None
    except TokenInvalid:
        raise InvitationInvalid(_("This invitation link is not valid.")) from None
    user = User.objects.filter(pk=data.get("u"), role=Role.CLIENT_CONTACT, is_active=True).first()
    if user is None:
        raise InvitationInvalid(_("This invitation link is not valid."))
    if account_state(user) != data.get("s"):
        raise InvitationUsed(_USED)
    if "i" in data:  # links e-mailed before invitations were numbered have no "i"
        invitation = PortalInvitation.objects.filter(pk=data["i"], user=user).first()
        if invitation is None:
            raise InvitationInvalid(_("This invitation link is not valid."))
        if invitation.accepted_at is not None:
            raise InvitationUsed(_USED)
        newer = PortalInvitation.objects.filter(user=user, pk__gt=invitation.pk).order_by("-pk").first()
        if newer is not None:
            sent = timezone.localtime(newer.sent_at)
            raise InvitationSuperseded(
                _(
                    "This invitation was replaced by a newer one, sent on %(sent)s: "
                    "use the link in the most recent invitation e-mail."
                )
                % {"sent": f"{sent:%B} {sent.day}, {sent:%Y at %H:%M}"}
            )
    return user


def invitation_url(user: User, invitation: PortalInvitation) -> str:
    """The link for the e-mail: the token after "#", which browsers never send to a server."""
    path = reverse("portal:invitation")
    return f"{settings.PORTAL_BASE_URL.rstrip('/')}{path}#{invitation_token_make(user, invitation)}"


def _contact_email(contact: Contact) -> str | None:
    email = parseaddr(contact.email or "")[1].strip().lower()
    if not email:
        return None
    try:
        validate_email(email)
    except ValidationError:
        return None
    return email


def _invitation_message(user: User, contact: Contact | None, invitation: PortalInvitation) -> EmailMultiAlternatives:
    expires = timezone.localtime(invitation.sent_at + INVITATION_MAX_AGE)
    context = {
        "msp_name": settings.MSP_NAME,
        "name": (contact.full_name if contact else "") or user.full_name or user.email,
        "organization": user.organization,
        "url": invitation_url(user, invitation),
        "expires": expires,
        "login_url": settings.PORTAL_BASE_URL.rstrip("/") + reverse("accounts:login"),
    }
    message = EmailMultiAlternatives(
        subject=f"{settings.MSP_NAME}: your invitation to the billing portal",
        body=render_to_string("portal/email/invitation.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string("portal/email/invitation.html", context), "text/html")
    return message


def _prepare(contact: Contact, actor: User, *, restore_revoked: bool) -> tuple[InviteOutcome | None, User | None]:
    """Create or find the contact's portal account; an outcome when nothing is to be sent.
    With ``restore_revoked``, a revoked account is reactivated (still without a password)."""
    if contact.organization_id is None or contact.deleted_at is not None:
        return InviteOutcome(contact, "skipped", _("The contact belongs to no current organization.")), None
    if not contact.is_active:
        return InviteOutcome(contact, "skipped", _("The contact is inactive in BMS.")), None
    email = _contact_email(contact)
    if email is None:
        return InviteOutcome(contact, "skipped", _("The contact has no valid e-mail address.")), None
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(
            email,
            None,
            role=Role.CLIENT_CONTACT,
            organization_id=contact.organization_id,
            full_name=contact.full_name[:200],
        )
        return None, user
    if not user.is_client_contact:
        return InviteOutcome(contact, "skipped", _("%(email)s is a staff account's address.") % {"email": email}), None
    if user.organization_id != contact.organization_id:
        other_organization = _("%(email)s already has portal access for another organization.") % {"email": email}
        return InviteOutcome(contact, "skipped", other_organization), None
    if not user.is_active:
        if not restore_revoked:
            return InviteOutcome(
                contact, "revoked", _("The portal access of %(email)s was revoked.") % {"email": email}
            ), None
        _restore(user, actor)
        return None, user
    if user.has_usable_password():
        return InviteOutcome(contact, "has_access", _("%(email)s already has portal access.") % {"email": email}), None
    last = PortalInvitation.objects.filter(user=user).order_by("-sent_at").first()
    if last and last.sent_at > timezone.now() - RESEND_AFTER:
        return InviteOutcome(
            contact, "recent", _("An invitation was sent to %(email)s a moment ago.") % {"email": email}
        ), None
    return None, user


def _restore(user: User, actor: User) -> None:
    """Undo a revocation: the account is active again, with no password until the contact
    uses the new invitation link."""
    user.is_active = True
    user.set_unusable_password()
    user.save(update_fields=["is_active", "password"])
    audit_record(
        actor=actor,
        action="portal.access.restored",
        target=user.email,
        summary=f"Invited {user.email} again after their client-portal access was revoked",
        organization_id=user.organization_id,
    )


def contacts_invite(*, contacts: list[Contact], actor: User, restore_revoked: bool = True) -> list[InviteOutcome]:
    """Invite each contact (one e-mail per distinct address); returns one outcome per contact.
    A revoked contact is invited again (access restored once the link is used) only with
    ``restore_revoked``.

    Nothing is e-mailed here: each invitation is numbered in this transaction and, once it
    commits, one Celery task per invitation e-mails it (portal.tasks), so a slow SMTP server
    never holds up the page."""
    outcomes: list[InviteOutcome] = []
    seen: set[str] = set()
    with transaction.atomic():
        for contact in contacts:
            email = _contact_email(contact)
            if email and email in seen:
                outcomes.append(
                    InviteOutcome(contact, "skipped", _("%(email)s is listed twice; invited once.") % {"email": email})
                )
                continue
            if email:
                seen.add(email)
            outcome, user = _prepare(contact, actor, restore_revoked=restore_revoked)
            if outcome is not None:
                outcomes.append(outcome)
                continue
            resend = PortalInvitation.objects.filter(user=user).exists()
            # Numbered before sending: the link names it, and replaces every earlier one.
            invitation = PortalInvitation.objects.create(user=user, contact=contact, invited_by=actor)
            transaction.on_commit(partial(_enqueue, invitation.pk))
            outcomes.append(
                InviteOutcome(
                    contact,
                    "resent" if resend else "invited",
                    (_("Invitation queued again for %(email)s.") if resend else _("Invitation queued for %(email)s."))
                    % {"email": user.email},
                )
            )
    return outcomes


def _enqueue(invitation_id: int) -> None:
    from portal.tasks import invitation_send_task  # why: portal.tasks imports this module

    try:
        invitation_send_task.delay(invitation_id)
    except Exception:  # broker down: staff can invite again (the next click is not "recent" for long)
        logger.exception("Could not queue the portal invitation %s", invitation_id)


def invitation_send(*, invitation_id: int) -> bool:
    """E-mail one queued invitation, exactly once: the row is locked while sending and marked
    e-mailed in the same transaction; an invitation already e-mailed, accepted, replaced by a
    newer one or deleted is not sent. True when sent; SMTP errors propagate (the task retries)."""
    with transaction.atomic():
        invitation = (
            PortalInvitation.objects.select_for_update(of=("self",))  # PostgreSQL locks no nullable join
            .select_related("user__organization", "contact__organization")
            .filter(pk=invitation_id)
            .first()
        )
        if invitation is None or invitation.emailed_at is not None or invitation.accepted_at is not None:
            return False
        user = invitation.user
        if not user.is_active:  # revoked since it was queued: the link would not work
            return False
        if PortalInvitation.objects.filter(user=user, pk__gt=invitation.pk).exists():
            return False  # a newer one replaced it before it went out: only the newest is sent
        contact = invitation.contact
        _invitation_message(user, contact, invitation).send()
        invitation.emailed_at = timezone.now()
        invitation.save(update_fields=["emailed_at"])
        organization = contact.organization if contact else user.organization
        audit_record(
            actor=invitation.invited_by,
            action="portal.invitation.sent",
            target=user.email,
            summary=f"Invited {user.email} ({organization}) to the client portal",
            organization_id=organization.pk if organization else None,
            resent=PortalInvitation.objects.filter(user=user, pk__lt=invitation.pk).exists(),
        )
    return True


def invitation_send_failed(*, invitation_id: int, reason: str) -> None:
    """The last attempt failed: drop the invitation, so the earlier link (if any) is again the
    one that works, and record why."""
    invitation = PortalInvitation.objects.select_related("user").filter(pk=invitation_id, emailed_at=None).first()
    if invitation is None:
        return
    email = invitation.user.email
    invitation.delete()
    logger.warning("Could not send the portal invitation to %s: %s", email, reason)
    audit_record(
        actor=invitation.invited_by,
        action="portal.invitation.failed",
        target=email,
        summary=f"Could not e-mail the client-portal invitation to {email}",
        reason=reason[:300],
    )


def organization_invite(*, organization: Organization, actor: User) -> list[InviteOutcome]:
    """Invite every active contact of the organization that has an e-mail address, except
    those who have access or whose access was revoked (the outcomes say so)."""
    contacts = list(
        Contact.objects.select_related("organization")
        .filter(organization=organization, deleted_at__isnull=True, is_active=True)
        .exclude(email="")
        .order_by("-is_poc", "-receives_invoices", "last_name", "first_name", "id")
    )
    return contacts_invite(contacts=contacts, actor=actor, restore_revoked=False)


@transaction.atomic
def invitation_accept(*, user: User, password: str) -> User:
    """Set the invited contact's password (validated by the caller's form)."""
    user.set_password(password)
    user.save(update_fields=["password"])
    PortalInvitation.objects.filter(user=user, accepted_at__isnull=True).update(accepted_at=timezone.now())
    audit_record(
        actor=user,
        action="portal.invitation.accepted",
        target=user.email,
        summary=f"{user.email} accepted the client-portal invitation",
    )
    return user


def summarize(outcomes: list[InviteOutcome]) -> str:
    """One message for staff: how many were queued, then who was skipped and why."""
    sent = sum(o.sent for o in outcomes)
    queued = ngettext("%(count)d invitation queued.", "%(count)d invitations queued.", sent) % {"count": sent}
    sentences = [queued if sent else _("No invitation sent.")]
    for status, skipped in (
        ("has_access", _("Skipped %(count)d already with portal access: %(emails)s.")),
        (
            "revoked",
            _("Skipped %(count)d access revoked (invite each one on their own to give access back): %(emails)s."),
        ),
    ):
        emails = [o.contact.email.strip().lower() for o in outcomes if o.status == status]
        if emails:
            shown = ", ".join(emails[:5])
            if len(emails) > 5:
                shown = _("%(emails)s and %(count)d more") % {"emails": shown, "count": len(emails) - 5}
            sentences.append(skipped % {"count": len(emails), "emails": shown})
    other = [o for o in outcomes if o.status in {"skipped", "recent"}]
    if other:
        reasons = "; ".join(o.detail.rstrip(".") for o in other[:5])
        sentences.append(_("%(count)d not sent: %(reasons)s.") % {"count": len(other), "reasons": reasons})
    return " ".join(sentences)
