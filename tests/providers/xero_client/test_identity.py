"""XeroIdentity against the stub: the authorization URL, the token endpoint's forms, rotation,
revocation, connections, and the errors that mean "Reconnect Xero"."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from integrations.base import IntegrationError
from providers.xero.client import DEFAULT_SCOPES, XeroIdentity
from providers.xero.exceptions import XeroAuthError, XeroBadResponse, XeroGrantRevoked, XeroUnavailable

from .conftest import CLIENT_ID, CLIENT_SECRET
from .payloads import TENANT_ID, connection, token
from .stub import Reply, json_reply, xero_reply

NOW = datetime(2030, 1, 1, tzinfo=UTC).timestamp()


def basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    assert scheme == "Basic"
    user, _, password = base64.b64decode(value).decode().partition(":")
    return user, password


def test_authorize_url(make_identity):
    url = make_identity(authorize_url="https://login.example.test/authorize").authorize_url(
        "https://portal.example.com/xero/callback", state="st-123"
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "login.example.test", "/authorize")
    assert parse_qs(parts.query) == {
        "response_type": ["code"],
        "client_id": [CLIENT_ID],
        "redirect_uri": ["https://portal.example.com/xero/callback"],
        "scope": [" ".join(DEFAULT_SCOPES)],
        "state": ["st-123"],
    }
    assert CLIENT_SECRET not in url
    assert "scope=offline_access%20accounting.invoices%20" in url  # spaces as %20, as Xero's examples


def test_authorize_url_takes_other_scopes_and_requires_state(make_identity):
    identity = make_identity()
    url = identity.authorize_url("https://p/cb", "s", scopes=["offline_access", "accounting.transactions"])
    assert parse_qs(urlsplit(url).query)["scope"] == ["offline_access accounting.transactions"]
    assert urlsplit(url).netloc == "login.xero.com"
    with pytest.raises(ValueError):
        identity.authorize_url("https://p/cb", "")
    assert "offline_access" in DEFAULT_SCOPES  # without it Xero gives no refresh token
    assert "accounting.invoices" in DEFAULT_SCOPES and "accounting.payments" in DEFAULT_SCOPES


def test_exchange_code_form_and_token_set(stub, make_identity):
    stub.on("POST", "/connect/token", json_reply(token("acc-1", "ref-1", expires_in=1800)))
    tokens = make_identity(clock=lambda: NOW).exchange_code("code-xyz", "https://p/cb")
    seen = stub.calls("/connect/token")[0]
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert basic(seen.headers["Authorization"]) == (CLIENT_ID, CLIENT_SECRET)
    assert seen.form == {"grant_type": "authorization_code", "code": "code-xyz", "redirect_uri": "https://p/cb"}
    assert (tokens.access_token, tokens.refresh_token, tokens.token_type) == ("acc-1", "ref-1", "Bearer")
    assert tokens.expires_at == datetime(2030, 1, 1, 0, 30, tzinfo=UTC)
    assert tokens.scopes == tuple(DEFAULT_SCOPES)
    assert "acc-1" not in repr(tokens) and "ref-1" not in repr(tokens) and "idt-1" not in repr(tokens)


def test_exchange_code_is_never_retried(stub, make_identity):
    stub.on("POST", "/connect/token", Reply(503), json_reply(token()))
    with pytest.raises(XeroUnavailable):
        make_identity().exchange_code("code-xyz", "https://p/cb")
    assert len(stub.calls("/connect/token")) == 1


def test_refresh_returns_the_rotated_refresh_token(stub, make_identity):
    stub.on("POST", "/connect/token", json_reply(token("acc-2", "ref-2")))
    tokens = make_identity().refresh("ref-1")
    assert stub.calls("/connect/token")[0].form == {"grant_type": "refresh_token", "refresh_token": "ref-1"}
    assert (tokens.access_token, tokens.refresh_token) == ("acc-2", "ref-2")


def test_refresh_is_retried_after_a_lost_answer(stub, make_identity, sleeps):
    stub.on("POST", "/connect/token", Reply(drop=True), Reply(502), json_reply(token("acc-2", "ref-2")))
    assert make_identity().refresh("ref-1").refresh_token == "ref-2"
    assert [c.form["refresh_token"] for c in stub.calls("/connect/token")] == ["ref-1"] * 3
    assert len(sleeps.calls) == 2


@pytest.mark.parametrize(
    "body",
    [{"error": "invalid_grant"}, {"error": "invalid_grant", "error_description": "refresh token expired"}],
)
def test_invalid_grant_is_grant_revoked(stub, make_identity, body):
    stub.on("POST", "/connect/token", json_reply(body, 400))
    with pytest.raises(XeroGrantRevoked) as err:
        make_identity().refresh("ref-OLD-123")
    assert isinstance(err.value, XeroAuthError) and isinstance(err.value, IntegrationError)
    assert not err.value.transient and err.value.status_code == 400
    assert "reconnect" in err.value.message.lower()
    assert "ref-OLD-123" not in str(err.value) and CLIENT_SECRET not in str(err.value)
    assert len(stub.calls("/connect/token")) == 1


def test_invalid_client_is_an_auth_error_not_a_revoked_grant(stub, make_identity):
    stub.on("POST", "/connect/token", json_reply({"error": "invalid_client"}, 400))
    with pytest.raises(XeroAuthError) as err:
        make_identity().exchange_code("c", "https://p/cb")
    assert not isinstance(err.value, XeroGrantRevoked)
    assert "invalid_client" in err.value.message


def test_token_answer_without_access_token(stub, make_identity):
    stub.on("POST", "/connect/token", json_reply({"token_type": "Bearer"}))
    with pytest.raises(XeroBadResponse):
        make_identity().refresh("r")


def test_revoke(stub, make_identity):
    stub.on("POST", "/connect/revocation", Reply(200))
    assert make_identity().revoke("ref-9") is None
    seen = stub.calls("/connect/revocation")[0]
    assert seen.form == {"token": "ref-9"}
    assert basic(seen.headers["Authorization"]) == (CLIENT_ID, CLIENT_SECRET)


def test_connections(stub, make_identity):
    stub.on("GET", "/connections", json_reply([connection(), connection(1)], headers={"X-AppMinLimit-Remaining": "9"}))
    identity = make_identity()
    found = identity.connections("acc-1")
    seen = stub.calls("/connections")[0]
    assert seen.headers["Authorization"] == "Bearer acc-1" and seen.query == {}
    assert [c.tenant_id for c in found] == [TENANT_ID, connection(1)["tenantId"]]
    first = found[0]
    assert (first.tenant_name, first.tenant_type) == ("Demo MSP (NZ)", "ORGANISATION")
    assert first.created_at == datetime(2019, 12, 7, 18, 46, 19, 516540, tzinfo=UTC)
    assert identity.last_limits is not None and identity.last_limits.app_minute_remaining == 9
    assert identity.last_limits.minute_remaining is None  # /connections is tenant-less


def test_connections_of_one_auth_event(stub, make_identity):
    stub.on("GET", "/connections", xero_reply([connection()]))
    claims = base64.urlsafe_b64encode(json.dumps({"authentication_event_id": "ev-1"}).encode()).decode().rstrip("=")
    stub.on("POST", "/connect/token", json_reply(token(access=f"h.{claims}.sig")))
    identity = make_identity()
    tokens = identity.refresh("r")
    assert tokens.auth_event_id == "ev-1"
    identity.connections(tokens.access_token, auth_event_id="d99ecdfe-391d-43d2-b834-17636ba90e8d")
    assert stub.calls("/connections")[0].query == {"authEventId": ["d99ecdfe-391d-43d2-b834-17636ba90e8d"]}


def test_connections_with_a_dead_access_token(stub, make_identity):
    stub.on("GET", "/connections", json_reply({"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired"}, 401))
    with pytest.raises(XeroAuthError):
        make_identity().connections("acc-old")


def test_constructor_checks():
    with pytest.raises(ValueError):
        XeroIdentity("", "secret")
    with pytest.raises(ValueError):
        XeroIdentity("id", "secret", identity_url="identity.xero.com")
    identity = XeroIdentity("id", CLIENT_SECRET)
    assert identity.identity_url == "https://identity.xero.com"
    assert identity.connections_url == "https://api.xero.com/connections"
    assert CLIENT_SECRET not in repr(identity)
