"""The OAuth 2.0 authorization-code flow end to end, refresh rotation, revocation, connections."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from xero_sandbox.app import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from xero_sandbox.testing import authorize

from .conftest import XeroClient

REDIRECT = "http://127.0.0.1:8000/xero/callback"
SCOPE = "openid profile email offline_access accounting.transactions accounting.contacts accounting.settings"


def _authorize_params(**kw: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": SCOPE,
        "state": "s1",
        **kw,
    }


def _token(
    xs: Any, auth: tuple[str, str] = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET), **form: str
) -> requests.Response:
    c = XeroClient(xs.url)
    return c.request("POST", "/connect/token", data=form, auth=auth)


def _refresh(xs: Any, refresh_token: str) -> requests.Response:
    return _token(xs, grant_type="refresh_token", refresh_token=refresh_token)


def test_consent_page_allow_code_token(xero_sandbox: Any) -> None:
    s = requests.Session()
    page = s.get(f"{xero_sandbox.url}/identity/connect/authorize", params=_authorize_params(), timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Demo MSP" in page.text and "Allow access" in page.text and "<form method='post'" in page.text
    fields = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page.text))
    assert fields["state"] == "s1" and fields["client_id"] == DEFAULT_CLIENT_ID
    back = s.post(
        f"{xero_sandbox.url}/identity/connect/authorize",
        data={**fields, "tenant": xero_sandbox.tenant_id, "action": "allow"},
        allow_redirects=False,
    )
    assert back.status_code == 302
    loc = urlsplit(back.headers["Location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT
    q = parse_qs(loc.query)
    assert q["state"] == ["s1"] and len(q["code"][0]) >= 32
    r = _token(xero_sandbox, grant_type="authorization_code", code=q["code"][0], redirect_uri=REDIRECT)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    tok = r.json()
    assert tok["token_type"] == "Bearer" and tok["expires_in"] == 1800 and tok["refresh_token"] and tok["id_token"]
    assert tok["access_token"].count(".") == 2  # JWT-shaped
    # the code is single use
    again = _token(xero_sandbox, grant_type="authorization_code", code=q["code"][0], redirect_uri=REDIRECT)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    api = XeroClient(xero_sandbox.url, access_token=tok["access_token"])
    conns = api.get("/connections").json()
    assert [c["tenantId"] for c in conns] == [xero_sandbox.tenant_id] and conns[0]["tenantName"] == "Demo MSP"
    api.tenant_id = conns[0]["tenantId"]
    assert api.get("/Organisation").json()["Organisations"][0]["Name"] == "Demo MSP"


def test_deny_and_bad_requests(xero_sandbox: Any) -> None:
    s = requests.Session()
    url = f"{xero_sandbox.url}/identity/connect/authorize"
    denied = s.post(url, data={**_authorize_params(), "action": "deny"}, allow_redirects=False)
    assert denied.status_code == 302 and parse_qs(urlsplit(denied.headers["Location"]).query) == {
        "error": ["access_denied"],
        "state": ["s1"],
    }
    assert s.get(url, params=_authorize_params(client_id="nope")).status_code == 400
    assert "redirect_uri" in s.get(url, params=_authorize_params(redirect_uri="https://evil.example/cb")).text
    assert "invalid_scope" in s.get(url, params=_authorize_params(scope="accounting.everything")).text
    assert s.get(url, params=_authorize_params(response_type="token")).status_code == 400


def test_registered_client_and_token_errors(xero_sandbox: Any) -> None:
    xero_sandbox.control.add_client("portal-app", "s3cret", redirect_uris=["https://portal.example/xero/cb"])
    s = requests.Session()
    url = f"{xero_sandbox.url}/identity/connect/authorize"
    assert s.get(url, params=_authorize_params(client_id="portal-app")).status_code == 400  # loopback not registered
    tok = authorize(xero_sandbox.url, "portal-app", "s3cret", "https://portal.example/xero/cb", state="z")
    assert tok["refresh_token"]
    bad_secret = _token(
        xero_sandbox, ("portal-app", "wrong"), grant_type="refresh_token", refresh_token=tok["refresh_token"]
    )
    assert bad_secret.status_code == 400 and bad_secret.json()["error"] == "invalid_client"
    other_client = _refresh(xero_sandbox, tok["refresh_token"])  # the demo client may not use portal-app's token
    assert other_client.status_code == 400 and other_client.json()["error"] == "invalid_grant"
    assert _token(xero_sandbox, grant_type="password").json()["error"] == "unsupported_grant_type"
    # the redirect_uri must be the authorize request's
    fields_page = s.get(url, params=_authorize_params())
    fields = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", fields_page.text))
    back = s.post(url, data={**fields, "tenant": xero_sandbox.tenant_id, "action": "allow"}, allow_redirects=False)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    wrong = _token(xero_sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT + "x")
    assert wrong.json()["error"] == "invalid_grant"


def test_refresh_rotation_and_grace(xero_sandbox: Any, frozen: float) -> None:
    r1 = authorize(xero_sandbox.url)["refresh_token"]
    first = _refresh(xero_sandbox, r1)
    assert first.status_code == 200
    r2 = first.json()["refresh_token"]
    assert r2 != r1 and "id_token" not in first.json()
    # the response was "lost": within 30 minutes the old token may be retried (Xero's grace period)
    xero_sandbox.control.advance_clock(20 * 60)
    retry = _refresh(xero_sandbox, r1)
    assert retry.status_code == 200
    r2b = retry.json()["refresh_token"]
    # the retry replaced the unused successor
    assert _refresh(xero_sandbox, r2).json() == {"error": "invalid_grant"}
    # using the new token ends the old one's grace
    r3 = _refresh(xero_sandbox, r2b).json()["refresh_token"]
    assert _refresh(xero_sandbox, r1).json() == {"error": "invalid_grant"}
    # after the grace period a used token is refused even if its successor is unused
    xero_sandbox.control.advance_clock(31 * 60)
    assert _refresh(xero_sandbox, r2b).json() == {"error": "invalid_grant"}
    assert _refresh(xero_sandbox, r3).status_code == 200


def test_strict_single_use_without_grace(xero_sandbox: Any) -> None:
    xero_sandbox.control.set_faults(refresh_grace_seconds=0)
    r1 = authorize(xero_sandbox.url)["refresh_token"]
    assert _refresh(xero_sandbox, r1).status_code == 200
    assert _refresh(xero_sandbox, r1).json() == {"error": "invalid_grant"}


def test_access_token_expires_after_30_minutes(xero_sandbox: Any, frozen: float) -> None:
    tok = authorize(xero_sandbox.url)
    api = XeroClient(xero_sandbox.url, xero_sandbox.tenant_id, tok["access_token"])
    assert api.get("/Organisation").status_code == 200
    xero_sandbox.control.advance_clock(1799)
    assert api.get("/Organisation").status_code == 200
    xero_sandbox.control.advance_clock(1)
    r = api.get("/Organisation")
    assert r.status_code == 401 and r.json()["Detail"].startswith("TokenExpired")
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    fresh = _refresh(xero_sandbox, tok["refresh_token"]).json()
    api.session.headers["Authorization"] = "Bearer " + fresh["access_token"]
    assert api.get("/Organisation").status_code == 200


def test_revocation_ends_the_grant(xero_sandbox: Any) -> None:
    tok = authorize(xero_sandbox.url)
    api = XeroClient(xero_sandbox.url, xero_sandbox.tenant_id, tok["access_token"])
    assert len(api.get("/connections").json()) == 1
    bad = XeroClient(xero_sandbox.url).request(
        "POST", "/connect/revocation", data={"token": tok["refresh_token"]}, auth=("x", "y")
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_client"
    r = XeroClient(xero_sandbox.url).request(
        "POST",
        "/connect/revocation",
        data={"token": tok["refresh_token"]},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )
    assert r.status_code == 200
    assert _refresh(xero_sandbox, tok["refresh_token"]).json() == {"error": "invalid_grant"}
    gone = api.get("/Organisation")
    assert gone.status_code == 401 and gone.json()["Detail"] == "AuthenticationUnsuccessful"


def test_grant_covering_several_tenants(xero_sandbox: Any) -> None:
    tenants = [t["tenantId"] for t in xero_sandbox.control.health()["tenants"]]
    assert len(tenants) == 2
    tok = authorize(xero_sandbox.url, tenants=tenants)
    api = XeroClient(xero_sandbox.url, access_token=tok["access_token"])
    conns = api.get("/connections").json()
    assert sorted(c["tenantId"] for c in conns) == sorted(tenants)
    assert len({c["authEventId"] for c in conns}) == 1
    names = set()
    for t in tenants:
        api.tenant_id = t
        names.add(api.get("/Organisation").json()["Organisations"][0]["Name"])
    assert names == {"Demo MSP", "Demo MSP Holdings"}
    # filter by authEventId, then disconnect one tenant
    assert len(api.get("/connections", params={"authEventId": conns[0]["authEventId"]}).json()) == 2
    assert api.request("DELETE", f"/connections/{conns[1]['id']}").status_code == 204
    api.tenant_id = conns[1]["tenantId"]
    assert api.get("/Organisation").status_code == 403
    assert len(api.get("/connections").json()) == 1


def test_tenant_header_and_scopes(xero_sandbox: Any) -> None:
    tok = xero_sandbox.control.grant(scopes=["offline_access", "accounting.contacts.read"])
    api = XeroClient(xero_sandbox.url, access_token=tok["access_token"])
    missing = api.get("/Contacts")
    assert missing.status_code == 403 and missing.json()["Detail"] == "AuthenticationUnsuccessful"
    api.tenant_id = xero_sandbox.tenant_id
    assert api.get("/Contacts").status_code == 200
    no_scope = api.get("/Invoices")
    assert no_scope.status_code == 401 and no_scope.json()["Detail"] == "AuthorizationUnsuccessful"
    assert (
        XeroClient(xero_sandbox.url, xero_sandbox.tenant_id, "forged.token.value").get("/Contacts").status_code == 401
    )


def test_pkce(xero_sandbox: Any) -> None:
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    s = requests.Session()
    url = f"{xero_sandbox.url}/identity/connect/authorize"
    params = _authorize_params(code_challenge=challenge, code_challenge_method="S256")
    page = s.get(url, params=params)
    fields = dict(re.findall(r"<input type='hidden' name='(\w+)' value='([^']*)'>", page.text))
    back = s.post(url, data={**fields, "tenant": xero_sandbox.tenant_id, "action": "allow"}, allow_redirects=False)
    code = parse_qs(urlsplit(back.headers["Location"]).query)["code"][0]
    c = XeroClient(xero_sandbox.url)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": DEFAULT_CLIENT_ID}
    assert (
        c.request("POST", "/connect/token", data={**form, "code_verifier": "wrong"}).json()["error"] == "invalid_grant"
    )
    ok = c.request("POST", "/connect/token", data={**form, "code_verifier": verifier})
    assert ok.status_code == 200 and ok.json()["access_token"]
