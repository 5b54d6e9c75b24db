"""Connect the demo's Xero card to the running Xero sandbox (development only): save the
sandbox's demo app (Client ID and Secret) and clearing account, go through its consent page
as the admin would (Allow access), exchange the code the way the callback does, and run Test
Connection (which starts the first Xero sync).

The portal must run with the XERO_* base URLs pointing at the sandbox (``make run`` sets them;
the sandbox itself is ``python -m xero_sandbox --port 8002``)."""

import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from integrations.models import Integration
from integrations.services import integration_save_settings, integration_test_connection
from providers.xero import oauth, services
from providers.xero.provider import XeroProvider

# The Xero sandbox's built-in demo app and its clearing account (xero_sandbox/app.py, data.py).
DEMO_SETTINGS = {
    "client_id": "SANDBOXDEMOCLIENT0000000000000000",
    "client_secret": "sandbox-demo-client-secret",
    "payment_account": "615",
    "scope_set": "broad",
}


class Command(BaseCommand):
    help = "Connect the demo's Xero card to the running Xero sandbox (development only)."

    def handle(self, *args, **options):
        if settings.PORTAL_ENV == "production":
            raise CommandError("xero_demo is for development only (PORTAL_ENV=production).")
        if "127.0.0.1" not in settings.XERO_AUTHORIZE_URL:
            raise CommandError("Point the XERO_* URLs at the Xero sandbox first (make run does).")
        admin = User.objects.get(email="admin@demo.local")
        provider = XeroProvider()
        integration = Integration.objects.filter(provider_key=provider.key).first()
        if integration is None:
            integration = integration_save_settings(provider=provider, actor=admin, cleaned_data=dict(DEMO_SETTINGS))
        code = _consent(integration)
        connection = services.xero_connect_with_code(integration=integration, actor=admin, code=code)
        result = integration_test_connection(integration=integration, actor=admin)
        state = "passed" if result.passed else f"failed: {result.summary}"
        self.stdout.write(f"Xero sandbox: connected to {connection}; Test Connection {state}")


def _consent(integration: Integration) -> str:
    """The consent page's Allow access, as a browser would submit it; returns the code."""
    web = requests.Session()
    params = {
        "response_type": "code",
        "client_id": integration.config["client_id"],
        "redirect_uri": oauth.redirect_uri(),
        "scope": " ".join(oauth.scopes_for(integration.config)),
        "state": "demo",
    }
    page = web.get(settings.XERO_AUTHORIZE_URL, params=params, timeout=10)
    page.raise_for_status()
    hidden = {k: unescape(v) for k, v in re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page.text)}
    tenants = [
        tenant for tenant, checked in re.findall(r"name='tenant' value='([^']+)'( checked)?", page.text) if checked
    ]
    form = [*hidden.items(), *(("tenant", t) for t in tenants), ("action", "allow")]
    back = web.post(settings.XERO_AUTHORIZE_URL, data=form, allow_redirects=False, timeout=10)
    if back.status_code != 302:
        raise CommandError(f"The Xero sandbox did not accept the consent (HTTP {back.status_code}).")
    code = parse_qs(urlsplit(back.headers["Location"]).query).get("code", [""])[0]
    if not code:
        raise CommandError("The Xero sandbox sent no authorization code back.")
    return code
