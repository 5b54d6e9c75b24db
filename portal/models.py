"""Getting into the client portal: invitations staff send and access requests people make.

Both models came from ``billing`` (migration billing 0007 renamed their tables to
``portal_*``; every row and id was kept).
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PortalInvitation(models.Model):
    """One invitation e-mail sent to a client contact (the link is a signed token)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="portal_invitations")
    contact = models.ForeignKey(
        "organizations.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    sent_at = models.DateTimeField(default=timezone.now)  # when it was asked for (queued)
    # When the worker e-mailed it (portal.tasks): set once, so it is never e-mailed twice.
    emailed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]

    def __str__(self) -> str:
        return f"Invitation to {self.user_id} at {self.sent_at:%Y-%m-%d %H:%M}"


class RevocationReason(models.TextChoices):
    STAFF = "staff", _("Revoked by staff")
    BMS = "bms", _("The BMS contact or organization is gone or inactive")


class PortalAccessRevocation(models.Model):
    """A client contact's portal access was taken away (portal.services). The newest one
    after the contact's newest invitation is the contact's current state: inviting again
    undoes it."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="portal_revocations")
    revoked_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=10, choices=RevocationReason.choices, default=RevocationReason.STAFF)

    class Meta:
        ordering = ["-revoked_at", "-id"]

    def __str__(self) -> str:
        return f"Access of {self.user_id} revoked at {self.revoked_at:%Y-%m-%d %H:%M}"


class AccessRequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    INVITED = "invited", _("Invited")
    DISMISSED = "dismissed", _("Dismissed")


class PortalAccessRequest(models.Model):
    """Someone asked for client-portal access from the sign-in page."""

    email = models.EmailField()
    full_name = models.CharField(max_length=200)
    company = models.CharField(max_length=200, blank=True)  # as typed by the requester
    message = models.TextField(max_length=1000, blank=True)
    # The synced contact (and so organization) the e-mail matched, if any.
    contact = models.ForeignKey(
        "organizations.Contact", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=20, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    handled_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"
