from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    MASTER_ADMIN = "master_admin", _("Master Admin")
    BILLING_STAFF = "billing_staff", _("Billing staff")
    CLIENT_CONTACT = "client_contact", _("Client contact")


STAFF_ROLES = frozenset({Role.MASTER_ADMIN, Role.BILLING_STAFF})


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields) -> "User":
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields) -> "User":
        fields.update(is_staff=True, is_superuser=True, role=Role.MASTER_ADMIN)
        return self.create_user(email, password, **fields)


# The name of the annotation the auth backend loads each request's user with.
ORGANIZATION_DELETED_AT = "organization_deleted_at"


class User(AbstractBaseUser, PermissionsMixin):
    """A person who signs in: MSP staff (by role) or a client contact."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    # Django admin access only; portal access is decided by ``role``.
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Client contacts only: the one organization whose data they may see.
    organization = models.ForeignKey(
        "organizations.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="portal_users"
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def is_master_admin(self) -> bool:
        return self.role == Role.MASTER_ADMIN

    @property
    def is_portal_staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def is_client_contact(self) -> bool:
        return self.role == Role.CLIENT_CONTACT

    @property
    def organization_is_deleted(self) -> bool:
        """The contact's organization was deleted in BMS (its portal is closed)."""
        if self.organization_id is None:
            return False
        if ORGANIZATION_DELETED_AT in self.__dict__:  # loaded with the user (portal.backends)
            return self.__dict__[ORGANIZATION_DELETED_AT] is not None
        return self.organization.deleted_at is not None


class AuditEvent(models.Model):
    """Who changed what and when. Never holds a secret: callers pass safe details only."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor_email = models.EmailField(blank=True)  # kept when the user is removed
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_email} {self.action} {self.target}"


class AttemptCounter(models.Model):
    """Attempts (failed sign-ins, access requests) counted under one key for a window of
    time (accounts.throttle). The key is a digest: no address or e-mail is stored."""

    key = models.CharField(max_length=100, unique=True)
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.count} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class StaffInvitation(models.Model):
    """One invitation e-mail to a staff member (accounts.staff). Created in the request,
    e-mailed by a Celery task (``emailed_at`` set once it went out: never twice)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_invitations")
    role = models.CharField(max_length=20, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    emailed_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Staff invitation to {self.user_id} at {self.created_at:%Y-%m-%d %H:%M}"
