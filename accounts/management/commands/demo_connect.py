"""Finish the demo once the sandbox runs: make client@demo.local a BMS contact of a
sandbox organization, run Test Connection (which starts the initial sync on the worker),
wait for the sync and link the client user to that organization. Development only."""

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from integrations.models import ACTIVE_SYNC_STATUSES, Integration, SyncRun
from integrations.services import integration_test_connection
from organizations.models import Contact

SANDBOX = "http://127.0.0.1:8001"
CLIENT_EMAIL = "client@demo.local"


class Command(BaseCommand):
    help = "Connect the demo to the running BMS sandbox and link the demo client (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=180)

    def handle(self, *args, timeout, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("demo_connect is for development only (PORTAL_ENV=production).")
        integration = Integration.objects.filter(provider_key="kaseya-bms").first()
        if integration is None or integration.config.get("server_url") != SANDBOX:
            self.stdout.write("The Kaseya BMS integration is not the sandbox one; leaving it alone.")
            return
        # The sandbox's data is generated: make its first contact the demo client.
        requests.post(
            f"{SANDBOX}/_sandbox/mutations",
            json={"op": "contact.update", "id": 1, "email": CLIENT_EMAIL, "firstName": "Casey", "lastName": "Client"},
            timeout=10,
        ).raise_for_status()
        admin = User.objects.get(email="admin@demo.local")
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
        self.stdout.write(self.style.SUCCESS(f"Demo client linked to {contact.organization}."))
