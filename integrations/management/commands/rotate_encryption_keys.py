from django.core.management.base import BaseCommand
from django.db import transaction

from integrations import secrets
from integrations.models import Integration


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        rotated = 0
        with transaction.atomic():
            for integration in Integration.objects.select_for_update().order_by("pk"):
                integration.encrypted_secrets = {
                    name: secrets.rotate(token) for name, token in integration.encrypted_secrets.items()
                }
                integration.save(update_fields=["encrypted_secrets"])
                rotated += len(integration.encrypted_secrets)
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {rotated} secret(s) under the first key."))
