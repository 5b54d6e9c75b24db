"""The integration interface: a provider describes a kind of integration, an installation is
one configured integration and the only way in.

- ``IntegrationProvider`` is a class-level description (key, name, category, logo, settings
  form, secret fields and the capabilities it offers). Each provider is a Django app under
  ``providers/`` that registers itself when it is ready; nothing else imports it.
- ``IntegrationInstallation`` wraps one ``Integration`` row: it builds the vendor client,
  knows the tenant it talks to, turns the vendor's errors into the admin's words (one place
  per provider) and implements the capabilities its provider declares.
- Callers ask the registry for the installation that offers a capability
  (``registry.installation_offering(Capability.SERVICE_TICKETS)``) and never name a provider.
- Every vendor error extends ``IntegrationError``: transient or not, how long to wait, and a
  message safe to show.
- A provider may add pages of its own (``urlpatterns``: mounted at ``integrations/<key>/`` in the
  URL namespace ``integrations:<key>``) and items on its card (``card_actions``); nothing outside
  its package names them.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from django import forms

    from integrations.models import DataSource, Integration


class Capability(enum.StrEnum):
    TEST_CONNECTION = "test_connection"
    SYNC = "sync"  # pulls records into the portal: ``SyncCapable``
    SERVICE_TICKETS = "service_tickets"  # creates and finds tickets: ``ServiceTickets``
    TICKET_LOOKUPS = "ticket_lookups"  # queues, priorities...: ``TicketLookupsCapable``
    INVOICE_PDFS = "invoice_pdfs"  # an invoice's PDF: ``InvoicePdfs``
    BILLING_CONTACTS = "billing_contacts"  # an organization's billing e-mails: ``BillingContacts``
    COLLECT_PAYMENTS = "collect_payments"
    POST_PAYMENTS = "post_payments"


class Category(enum.StrEnum):
    PSA = "PSA"
    ACCOUNTING = "Accounting"
    PAYMENTS = "Payments"


class IntegrationError(Exception):
    """Root of every vendor client's errors. The message never holds a secret and is safe to show."""

    transient: bool = False  # worth retrying later
    retry_after: float = 0.0  # seconds the vendor asked us to wait (0: it did not say)


class IntegrationRateLimited(IntegrationError):
    """The vendor's (or our shared) request budget is spent; ``retry_after`` says for how long."""

    transient = True


@dataclass(frozen=True)
class ConnectionCheck:
    """One area Test Connection verifies."""

    area: str
    label: str
    passed: bool | None  # None: not checked (an earlier step failed)
    detail: str = ""
    remedy: str = ""  # what to grant or fix, in the admin's words


@dataclass(frozen=True)
class ConnectionTestResult:
    checks: list[ConnectionCheck] = field(default_factory=list)
    tenant: TenantIdentity | None = None  # who answered, when sign-in worked

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    @property
    def summary(self) -> str:
        failed = [c for c in self.checks if c.passed is False]
        if not failed:
            return "Every check passed."
        first = failed[0]
        return f"{first.label}: {first.detail}"

    def as_json(self) -> list[dict]:
        return [asdict(check) for check in self.checks]


@dataclass(frozen=True)
class TenantIdentity:
    """The vendor tenant an installation talks to. ``key`` is stable for the tenant whatever
    URL reaches it, so records synced from it keep one data source."""

    key: str
    display_name: str


@dataclass(frozen=True)
class CardAction:
    """An extra item a provider puts on its card (see ``IntegrationProvider.card_actions``).

    ``method`` "post" renders a form button (with the CSRF token), "get" a link. ``prominent``
    shows it as a button in the card's body (e.g. **Reconnect**) with ``hint`` beside it; the
    others go in the card's menu. ``staff`` lets Billing staff see it too (the menu is the
    Master Admin's): such an action is shown in the body as a link."""

    label: str
    url: str
    method: str = "get"
    icon: str = ""  # a Bootstrap icon name, e.g. "bi-link-45deg"
    prominent: bool = False
    hint: str = ""
    staff: bool = False


class IntegrationInstallation:
    """One configured integration. Subclasses implement the capabilities their provider declares."""

    def __init__(self, provider: IntegrationProvider, integration: Integration) -> None:
        self.provider = provider
        self.integration = integration

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.integration.pk}>"

    @property
    def name(self) -> str:
        return self.provider.name

    def offers(self, capability: Capability) -> bool:
        return capability in self.provider.capabilities

    @property
    def is_connected(self) -> bool:
        """It has worked: a passed Test Connection, or a successful sync."""
        source = getattr(self.integration, "data_source", None)
        return bool(self.integration.last_test_passed or (source is not None and source.last_success_at))

    def client(self, **options: Any):
        """The vendor client for this installation."""
        raise NotImplementedError

    def settings_tenant_key(self) -> str:
        """The key sources had before tenant identity, derived from the settings (so a source
        synced then can still be found and rekeyed)."""
        return ""

    def test_connection(self) -> ConnectionTestResult:
        """Check every area; when sign-in works the result names the tenant that answered."""
        raise NotImplementedError

    def error_message(self, exc: IntegrationError, *, doing: str) -> str:
        """``exc`` in the admin's words, with what to do about it. ``doing`` names the use
        (an ``Activity``) so the remedy fits where the message is shown."""
        return str(exc)


class Activity(enum.StrEnum):
    """What the portal was doing when a vendor error happened (it picks the remedy)."""

    SYNC = "sync"
    SIGN_IN = "sign_in"
    SERVICE_TICKET = "service_ticket"
    LOOKUP = "lookup"
    INVOICE_PDF = "invoice_pdf"


class IntegrationProvider:
    """A kind of integration, described at class level."""

    key: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[Category]
    description: ClassVar[str] = ""
    logo: ClassVar[str] = ""  # a static path
    order: ClassVar[int] = 100
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Settings that say which tenant the integration reaches: changing one pauses syncs until
    # Test Connection has identified the tenant again.
    identity_fields: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    installation_class: ClassVar[type[IntegrationInstallation]] = IntegrationInstallation

    def settings_form_class(self) -> type[forms.Form]:
        raise NotImplementedError

    def settings_form(self, integration: Integration | None, data=None) -> forms.Form:
        """The settings form, bound to ``data`` when given. Secrets are never initial data: the
        form only learns which ones are stored, so an empty field can keep them."""
        stored_secrets = frozenset(name for name in self.secret_fields if integration and integration.has_secret(name))
        return self.settings_form_class()(
            data,
            initial=dict(integration.config) if integration else {},
            stored_secrets=stored_secrets,
            stored_config=integration.config if integration else None,
        )

    def installation(self, integration: Integration) -> IntegrationInstallation:
        return self.installation_class(self, integration)

    def urlpatterns(self) -> list:
        """Pages of this provider's own (e.g. an OAuth callback), mounted by ``integrations.urls`` at
        ``integrations/<key>/`` in the namespace ``integrations:<key>``. They cannot shadow the card's
        pages (settings, test, sync...), which are matched first. Default: none."""
        return []

    def card_actions(self, integration: Integration | None = None) -> list[CardAction]:
        """Extra items on this provider's card. The card template calls it without an argument: the
        provider then reads its own integration (at most one per provider). Default: none."""
        return []

    @property
    def can_sync(self) -> bool:
        return Capability.SYNC in self.capabilities


class SyncedEntity:
    """One kind of record a sync writes, as the card counts it."""

    def __init__(self, label: str, model) -> None:
        self.label = label
        self.model = model

    def live_count(self, source: DataSource) -> int:
        return self.model.objects.filter(source=source, deleted_at__isnull=True).count()
