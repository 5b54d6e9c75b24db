"""Connect the demo's Stripe card to a running localstripe (development only): save its keys
(any sk_test_ key works there), register the portal's webhook endpoint with localstripe so it
signs and delivers events, and run Test Connection.

The portal must run with STRIPE_API_BASE pointing at that localstripe (``make run`` sets
``STRIPE_API_BASE=http://127.0.0.1:8420`` and ``STRIPE_JS_URL=<base>/js.stripe.com/v3/``).
localstripe itself is started by ``python scripts/localstripe_server.py --port 8420``."""

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from integrations.models import Integration
from integrations.services import integration_save_settings, integration_test_connection
from providers.stripe.forms import webhook_url
from providers.stripe.provider import StripeProvider

DEMO_KEYS = {
    "publishable_key": "pk_test_demo_localstripe",
    "secret_key": "sk_test_demo_localstripe",
    "webhook_secret": "whsec_demo_localstripe",
    "mode": "test",
}
WEBHOOK_ID = "portal"


class Command(BaseCommand):
    help = "Connect the demo's Stripe card to the running localstripe (development only)."

    def handle(self, *args, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("stripe_demo is for development only (PORTAL_ENV=production).")
        base = settings.STRIPE_API_BASE
        if not base:
            raise CommandError("Set STRIPE_API_BASE to the localstripe URL (e.g. http://127.0.0.1:8420).")
        admin = User.objects.filter(email="admin@demo.local").first()
        provider = StripeProvider()
        integration = Integration.objects.filter(provider_key=provider.key).first()
        if integration is None:
            integration = integration_save_settings(provider=provider, actor=admin, cleaned_data=dict(DEMO_KEYS))
        answer = requests.post(
            f"{base.rstrip('/')}/_config/webhooks/{WEBHOOK_ID}",
            json={"url": webhook_url(), "secret": integration.get_secret("webhook_secret")},
            timeout=10,
        )
        if answer.status_code != 200:
            raise CommandError(f"localstripe refused the webhook endpoint: HTTP {answer.status_code}")
        result = integration_test_connection(integration=integration, actor=admin)
        state = "passed" if result.passed else f"failed: {result.summary}"
        self.stdout.write(f"Stripe (localstripe at {base}): webhook -> {webhook_url()}; Test Connection {state}")
