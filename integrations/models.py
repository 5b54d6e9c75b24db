from django.conf import settings
from django.db import models
from django.utils import timezone

from integrations import secrets


class IntegrationStatus(models.TextChoices):
    CONFIGURED = "configured", "Not tested"
    CONNECTED = "connected", "Connected"
    SYNCING = "syncing", "Syncing"
    ERROR = "error", "Error"


class Integration(models.Model):
    """A configured integration: its settings and encrypted credentials.

    Deleting it removes the credentials and configuration; synced records belong to a
    data source that outlives it.
    """

    provider_key = models.CharField(max_length=50, unique=True)
    config = models.JSONField(default=dict)
    # name -> Fernet token; read only through get_secret().
    encrypted_secrets = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=IntegrationStatus.choices, default=IntegrationStatus.CONFIGURED)
    status_detail = models.CharField(max_length=500, blank=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_passed = models.BooleanField(null=True)
    last_test_checks = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.provider_key

    def __repr__(self) -> str:
        return f"<Integration {self.pk} {self.provider_key} {self.status}>"

    def set_secret(self, name: str, value: str) -> None:
        self.encrypted_secrets = {**self.encrypted_secrets, name: secrets.encrypt(value)}

    def get_secret(self, name: str) -> str:
        token = self.encrypted_secrets.get(name)
        return secrets.decrypt(token) if token else ""

    def has_secret(self, name: str) -> bool:
        return bool(self.encrypted_secrets.get(name))

    @property
    def provider(self):
        from integrations.registry import get_provider

        return get_provider(self.provider_key)
