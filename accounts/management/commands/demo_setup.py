"""Create the demo users and point the Kaseya BMS integration at the local sandbox.

Idempotent, and refused in production: demo passwords must never exist there.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role, User
from integrations.models import Integration
from integrations.registry import get_provider
from integrations.services import integration_save_settings

DEMO_USERS = [
    ("admin@demo.local", "demo-admin", Role.MASTER_ADMIN, "Morgan Admin"),
    ("billing@demo.local", "demo-billing", Role.BILLING_STAFF, "Bailey Billing"),
    ("client@demo.local", "demo-client", Role.CLIENT_CONTACT, "Casey Client"),
]
SANDBOX_SETTINGS = {
    "company_name": "Demo MSP",
    "username": "api@demo.local",
    "password": "demo-bms",
    "server_url": "http://127.0.0.1:8001",
}


class Command(BaseCommand):
    help = "Create the demo users and the sandbox BMS settings (development only)."

    def handle(self, *args, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("demo_setup is for development only (PORTAL_ENV=production).")
        with transaction.atomic():
            for email, password, role, name in DEMO_USERS:
                user, created = User.objects.get_or_create(email=email, defaults={"role": role, "full_name": name})
                if created:
                    user.set_password(password)
                    user.save()
            admin = User.objects.get(email="admin@demo.local")
            provider = get_provider("kaseya-bms")
            if not Integration.objects.filter(provider_key=provider.key).exists():
                integration_save_settings(provider=provider, actor=admin, cleaned_data=SANDBOX_SETTINGS)
        self.stdout.write(self.style.SUCCESS("Demo users and sandbox BMS settings are ready."))
