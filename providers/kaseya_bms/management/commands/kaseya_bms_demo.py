"""Connect the demo to the running BMS sandbox: save the sandbox settings (once), make
client@demo.local a BMS contact of a sandbox organization, run Test Connection (which starts
the initial sync on the worker), wait for the sync and link the client user to that
organization. Development only; run after demo_setup."""

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from core.text import sentence
from integrations.models import ACTIVE_SYNC_STATUSES, Integration, SyncRun
from integrations.services import integration_save_settings, integration_test_connection
from organizations.models import Contact
from providers.kaseya_bms.provider import KaseyaBmsProvider

SANDBOX = "http://127.0.0.1:8001"
SANDBOX_SETTINGS = {
    "company_name": "Demo MSP",
    "username": "api@demo.local",
    "password": "demo-bms",
    "server_url": SANDBOX,
}
CLIENT_EMAIL = "client@demo.local"


class Command(BaseCommand):
    help = "Connect the demo to the running BMS sandbox and link the demo client (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=180)

    def handle(self, *args, timeout, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("kaseya_bms_demo is for development only (PORTAL_ENV=production).")
        admin = User.objects.get(email="admin@demo.local")
        provider = KaseyaBmsProvider()
        integration = Integration.objects.filter(provider_key=provider.key).first()
        if integration is None:
            integration = integration_save_settings(provider=provider, actor=admin, cleaned_data=SANDBOX_SETTINGS)
        if integration.config.get("server_url") != SANDBOX:
            self.stdout.write("The Kaseya BMS integration is not the sandbox one; leaving it alone.")
            return
        # The sandbox's data is generated: make its first contact the demo client.
        requests.post(
            f"{SANDBOX}/_sandbox/mutations",
            json={"op": "contact.update", "id": 1, "email": CLIENT_EMAIL, "firstName": "Casey", "lastName": "Client"},
            timeout=10,
        ).raise_for_status()
        result = integration_test_connection(integration=integration, actor=admin)
        if not result.passed:
            raise CommandError(f"Test Connection against the sandbox failed: {result.summary}")
        deadline = time.monotonic() + timeout
        while SyncRun.objects.filter(status__in=ACTIVE_SYNC_STATUSES).exists():
            if time.monotonic() > deadline:
                raise CommandError("The initial sync did not finish in time; see the worker's log.")
            time.sleep(1)
        contact = Contact.objects.filter(email=CLIENT_EMAIL, deleted_at__isnull=True).first()
        if contact is None or contact.organization is None:
            self.stdout.write("The demo client's contact is not synced yet; it is linked after the next sync.")
            return
        User.objects.filter(email=CLIENT_EMAIL).update(organization=contact.organization)
        self.stdout.write(self.style.SUCCESS(sentence(f"Demo client linked to {contact.organization}")))
