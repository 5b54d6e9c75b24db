"""Create the demo users (each provider's own ``*_demo`` command connects its sandbox).

Idempotent, and refused in production: demo passwords must never exist there.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import Role, User

DEMO_USERS = [
    ("admin@demo.local", "demo-admin", Role.MASTER_ADMIN, "Morgan Admin"),
    ("billing@demo.local", "demo-billing", Role.BILLING_STAFF, "Bailey Billing"),
    ("client@demo.local", "demo-client", Role.CLIENT_CONTACT, "Casey Client"),
]


class Command(BaseCommand):
    help = "Create the demo users (development only)."

    def handle(self, *args, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("demo_setup is for development only (PORTAL_ENV=production).")
        with transaction.atomic():
            for email, password, role, name in DEMO_USERS:
                user, created = User.objects.get_or_create(email=email, defaults={"role": role, "full_name": name})
                if created:
                    user.set_password(password)
                    user.save()
        self.stdout.write(self.style.SUCCESS("Demo users are ready."))
