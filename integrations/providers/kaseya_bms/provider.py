"""Kaseya BMS as an integration provider: the only Django code that builds a BmsClient."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings

from integrations.models import Integration
from integrations.providers.base import ConnectionCheck, ConnectionTestResult, IntegrationProvider
from integrations.providers.kaseya_bms import exceptions as bms_errors
from integrations.providers.kaseya_bms.client import BmsClient
from integrations.providers.kaseya_bms.forms import KaseyaBmsSettingsForm
from integrations.providers.kaseya_bms.server_url import InvalidServerUrl, normalize_server_url
from integrations.providers.kaseya_bms.types import BmsModule
from integrations.registry import register


def _sign_in_failure(exc: bms_errors.BmsError) -> tuple[str, str]:
    """(what went wrong, what to do) for a failed sign-in."""
    if isinstance(exc, bms_errors.BmsAuthenticationError):
        remedies = {
            bms_errors.AuthFailureReason.WRONG_TENANT: (
                "Check Company Name: it is the tenant name on your BMS My Profile page."
            ),
            bms_errors.AuthFailureReason.WRONG_CREDENTIALS: "Check Username and Password of the API Employee user.",
            bms_errors.AuthFailureReason.NO_API_ACCESS: (
                "Grant Admin > Special Features > Has API Access in the user's security role."
            ),
        }
        return str(exc), remedies.get(exc.reason, "Check Company Name, Username and Password.")
    if isinstance(exc, bms_errors.BmsTlsError):
        return str(exc), "The server's TLS certificate is not valid: check the Server URL."
    if isinstance(exc, bms_errors.BmsNotABmsServer):
        return str(exc), "Check the Server URL: use your BMS API host, e.g. api.bms.kaseya.com."
    if isinstance(exc, bms_errors.BmsRateLimited):
        return str(exc), "BMS limits API calls per hour; try again later."
    if isinstance(exc, bms_errors.BmsTimeout | bms_errors.BmsUnavailable):
        return str(exc), "Check the Server URL and that the server is reachable from the portal."
    return str(exc), "Check the settings and try again."


@register
class KaseyaBmsProvider(IntegrationProvider):
    key = "kaseya-bms"
    name = "Kaseya BMS"
    category = "PSA"
    description = "Organizations, contacts, contracts, tickets and invoices from your Kaseya BMS tenant."
    logo = "img/kaseya-bms.svg"
    order = 10
    secret_fields = ("password",)

    def settings_form_class(self):
        return KaseyaBmsSettingsForm

    def build_client(self, integration: Integration, **options) -> BmsClient:
        """Raises InvalidServerUrl when the host now resolves to a private address (DNS
        changed since the settings were saved)."""
        config = integration.config
        options.setdefault("timeout", (settings.BMS_CONNECT_TIMEOUT, settings.BMS_READ_TIMEOUT))
        server_url = normalize_server_url(
            config["server_url"], allowed_insecure_hosts=settings.BMS_ALLOWED_INSECURE_HOSTS
        )
        return BmsClient(
            server_url,
            config["company_name"],
            config["username"],
            integration.get_secret("password"),
            **options,
        )

    def test_connection(self, integration: Integration) -> ConnectionTestResult:
        # One attempt per request: an admin waiting on the page wants the reason, not retries.
        try:
            client = self.build_client(integration, max_attempts=1)
        except InvalidServerUrl as exc:
            return _sign_in_failed(str(exc), "Check the Server URL.")
        try:
            client.authenticate()
        except bms_errors.BmsError as exc:
            return _sign_in_failed(*_sign_in_failure(exc))
        checks = [ConnectionCheck("signin", "Sign-in and API access", True, "Signed in to BMS.")]
        try:
            rights = {right.main_menu_id: right for right in client.user_info().access_rights}
        except bms_errors.BmsError as exc:
            rights = None
            rights_error = str(exc)
        for area, label, module, need_modify, probe in _AREAS:
            if rights is None:
                checks.append(ConnectionCheck(area, label, False, f"Could not read the user's rights: {rights_error}"))
                continue
            right = rights.get(module)
            granted = bool(right and right.can_view and (right.can_modify or not need_modify))
            if not granted:
                checks.append(
                    ConnectionCheck(area, label, False, "The API user's security role lacks this.", f"Grant {label}.")
                )
                continue
            if probe is not None:
                try:
                    probe(client)
                except bms_errors.BmsPermissionDenied as exc:
                    checks.append(ConnectionCheck(area, label, False, str(exc), f"Grant {label}."))
                    continue
                except bms_errors.BmsError as exc:
                    checks.append(ConnectionCheck(area, label, False, str(exc), "Try again later."))
                    continue
            checks.append(ConnectionCheck(area, label, True, "Granted."))
        return ConnectionTestResult(checks)


def _sign_in_failed(detail: str, remedy: str) -> ConnectionTestResult:
    """Sign-in failed: say why, and leave every other area unchecked."""
    checks = [ConnectionCheck("signin", "Sign-in and API access", False, detail, remedy)]
    checks += [ConnectionCheck(area, label, None, "Not checked: sign-in failed.") for area, label, *_ in _AREAS]
    return ConnectionTestResult(checks)


def _probe_crm(client: BmsClient) -> None:
    client.list_accounts(page=1, page_size=1)
    client.list_contacts(page=1, page_size=1)


def _probe_finance(client: BmsClient) -> None:
    client.list_contracts(page=1, page_size=1)
    client.list_invoices(page=1, page_size=1)


def _probe_servicedesk(client: BmsClient) -> None:
    client.search_tickets(page=1, page_size=1)


def _probe_lookups(client: BmsClient) -> None:
    client.list_queues()


# (area, label as in the BMS security-role checklist, module, needs modify, read-only probe)
_AREAS: list[tuple[str, str, int, bool, Callable[[BmsClient], None] | None]] = [
    ("crm_view", "CRM: View All", BmsModule.CRM, False, _probe_crm),
    ("finance_view", "Finance: View All", BmsModule.FINANCE, False, _probe_finance),
    ("finance_modify", "Finance: Modify All", BmsModule.FINANCE, True, None),
    ("servicedesk_view", "ServiceDesk: View All", BmsModule.SERVICE_DESK, False, _probe_servicedesk),
    ("servicedesk_modify", "ServiceDesk: Modify All", BmsModule.SERVICE_DESK, True, None),
    ("admin_view", "Admin: View All (ticket lookups)", BmsModule.ADMIN, False, _probe_lookups),
]
