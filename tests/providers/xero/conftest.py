"""Fixtures for the Xero provider: the Xero sandbox over HTTP (reset before each test), the portal's
settings pointed at it, a saved Xero integration, and a connection made through the consent page."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from integrations.base import TenantIdentity
from integrations.models import Integration
from integrations.registry import get_provider, installation_of
from integrations.services import data_source_link, integration_save_settings
from providers.xero import services
from providers.xero.types import Connection, TokenSet
from tests.providers.xero_client import openapi
from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures

PAYMENT_ACCOUNT = "615"  # the sandbox's Portal Payments Clearing (payments enabled)


class FakeClock:
    """A clock that only moves when someone sleeps (thread-safe)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self.now += seconds


@pytest.fixture(autouse=True)
def xero_contract(monkeypatch):
    """Every request the portal sends to Xero's API (and to /connections) during a test fits Xero's
    OpenAPI documents (the token and revocation endpoints are not in them; the consent page is a
    browser's form, not the API)."""
    sent: list[requests.PreparedRequest] = []
    original = requests.Session.send

    def send(self, request, **kwargs):
        path = urlsplit(request.url).path
        if path.startswith("/api.xro/") or path.lower() == "/connections":
            sent.append(request)
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", send)
    yield sent
    problems: list[str] = []
    for request in sent:
        parts = urlsplit(request.url)
        doc = openapi.accounting() if parts.path.startswith("/api.xro/") else openapi.identity()
        body = request.body.encode() if isinstance(request.body, str) else (request.body or b"")
        problems += doc.request_errors(
            request.method, parts.path, parse_qs(parts.query, keep_blank_values=True), dict(request.headers), body
        )
    assert not problems, "\n".join(sorted(set(problems)))


@pytest.fixture
def xero_settings(xero_sandbox, settings):  # noqa: F811 - the fixture above
    settings.XERO_API_BASE_URL = f"{xero_sandbox.url}/api.xro/2.0"
    settings.XERO_IDENTITY_URL = xero_sandbox.url
    settings.XERO_AUTHORIZE_URL = f"{xero_sandbox.url}/identity/connect/authorize"
    settings.XERO_CONNECTIONS_URL = f"{xero_sandbox.url}/connections"
    settings.PORTAL_BASE_URL = "http://127.0.0.1:8000"  # a redirect URI the sandbox's demo app accepts
    return settings


def save_xero_settings(sandbox, actor, **overrides) -> Integration:
    cleaned = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "payment_account": PAYMENT_ACCOUNT,
        "scope_set": "granular",
        **overrides,
    }
    return integration_save_settings(provider=get_provider("xero"), actor=actor, cleaned_data=cleaned)


@pytest.fixture
def xero_integration(xero_settings, xero_sandbox, admin_user) -> Integration:  # noqa: F811
    return save_xero_settings(xero_sandbox, admin_user)


def consent(authorize_url: str, *, tenants: list[str] | None = None, allow: bool = True) -> str:
    """Xero's consent page as a browser would use it: open it, tick ``tenants`` (default: as the
    page ticks them), press Allow access (or Cancel). Returns where Xero sends the browser."""
    browser = requests.Session()
    page = browser.get(authorize_url, timeout=10)
    assert page.status_code == 200, page.text
    assert "Allow access" in page.text
    form = {k: unescape(v) for k, v in re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page.text)}
    boxes = re.findall(r"name='tenant' value='([^']+)'( checked)?", page.text)
    chosen = tenants if tenants is not None else [t for t, checked in boxes if checked]
    data = [*form.items(), *(("tenant", t) for t in chosen), ("action", "allow" if allow else "deny")]
    back = browser.post(authorize_url.split("?")[0], data=data, allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    return back.headers["Location"]


def connect_via_consent(web, *, tenants: list[str] | None = None, allow: bool = True):
    """Connect Xero on the card, consent on the sandbox's page, come back to the callback view.
    Returns the callback's response."""
    start = web.post("/integrations/xero/connect/")
    assert start.status_code == 302, start.content
    back = consent(start["Location"], tenants=tenants, allow=allow)
    parts = urlsplit(back)
    assert parts.path == "/integrations/xero/callback/"
    return web.get(f"{parts.path}?{parts.query}")


def callback_query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def grant_directly(integration: Integration, sandbox, actor, *, scopes=None, tenant_ids=None):
    """A grant made without the consent page (the sandbox's control API), stored as the callback stores
    one: for tests about what happens after connecting."""
    body = {}
    if scopes is not None:
        body["scopes"] = scopes
    if tenant_ids is not None:
        body["tenant_ids"] = tenant_ids
    answer = sandbox.control.grant(**body)
    token_set = TokenSet.from_api(answer, datetime.now(UTC))
    services.xero_grant_store(integration=integration, token_set=token_set)
    names = {t["tenantId"]: t["name"] for t in sandbox.control.health()["tenants"]}
    connections = [
        Connection(f"conn-{n}", t, "ORGANISATION", names.get(t), None, None, None)
        for n, t in enumerate(answer["tenant_ids"])
    ]
    return services.xero_connect_complete(
        integration=integration, actor=actor, scopes=token_set.scopes, connections=connections
    )


@pytest.fixture
def xero_connected(xero_integration, xero_sandbox, admin_user):  # noqa: F811
    """Xero connected to the sandbox's main organisation (every scope the portal asks for) and linked
    to its data source, as a passed Test Connection leaves it (without its requests: tests count them)."""
    grant_directly(xero_integration, xero_sandbox, admin_user)
    data_source_link(
        integration=xero_integration, tenant=TenantIdentity(f"tenant:{xero_sandbox.tenant_id}", "Demo MSP")
    )
    xero_integration.refresh_from_db()
    return xero_integration


@pytest.fixture
def xero_installation(xero_connected):
    return installation_of(xero_connected)
