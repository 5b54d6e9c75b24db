"""Xero's identity service: the consent page, the token and revocation endpoints, connections.

Invariants:

* An authorization code is single use and lives 5 minutes; it is bound to its client and
  redirect_uri (and to its PKCE challenge when one was given).
* Refresh tokens rotate: each use returns a new one. A used refresh token may be retried
  for `refresh_grace_seconds` (Xero documents 30 minutes) as long as the token it produced
  has not been used itself; a retry replaces that unused successor. Otherwise, and after
  revocation or 60 days unused, the answer is 400 ``invalid_grant``.
* Revoking a refresh token revokes its grant: every token of the grant dies and its
  connections disappear.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from .app import (
    CODE_LIFETIME,
    ApiError,
    AuthCode,
    Client,
    Ctx,
    Request,
    Response,
    Route,
    Sandbox,
    compile_template,
    html_response,
    json_response,
    not_found,
    oauth_error,
    redirect,
)

KNOWN_SCOPES = {
    "openid",
    "profile",
    "email",
    "offline_access",
    "accounting.transactions",
    "accounting.transactions.read",
    "accounting.contacts",
    "accounting.contacts.read",
    "accounting.settings",
    "accounting.settings.read",
    "accounting.reports.read",
    "accounting.journals.read",
    "accounting.attachments",
    "accounting.attachments.read",
    "accounting.invoices",
    "accounting.invoices.read",
    "accounting.payments",
    "accounting.payments.read",
}

PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;color:#1e2a38}"
    "h1{font-size:1.4rem}.box{border:1px solid #cfd8e3;border-radius:8px;padding:1.2rem 1.5rem}"
    "button{font-size:1rem;padding:.5rem 1.2rem;border-radius:4px;border:1px solid #13b5ea;cursor:pointer}"
    ".allow{background:#13b5ea;color:#fff}.cancel{background:#fff;color:#13b5ea}"
    "label{display:block;margin:.3rem 0}code{background:#f1f4f8;padding:0 .2rem}"
    ".note{color:#6b7785;font-size:.85rem}"
)


def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{PAGE_STYLE}</style></head><body>{body}"
        "<p class='note'>Xero sandbox: a fake Xero for development and tests. Not Xero.</p></body></html>"
    )
    return html_response(status, doc, {"Cache-Control": "no-store"})


def _error_page(message: str) -> Response:
    return _page(
        "Error", f"<h1>Sorry, something went wrong</h1><div class='box'><p>{html.escape(message)}</p></div>", 400
    )


def _redirect_allowed(client: Client, uri: str) -> bool:
    if client.redirect_uris is not None:
        return uri in client.redirect_uris
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and parts.hostname in ("127.0.0.1", "localhost", "::1")


def _with_query(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if "?" in uri else "?") + urlencode(params)


def _validate_authorize(app: Sandbox, p: dict[str, str]) -> tuple[Client, list[str]] | Response:
    client = app.clients.get(p.get("client_id", ""))
    if client is None:
        return _error_page("unauthorized_client: unknown client_id")
    uri = p.get("redirect_uri", "")
    if not uri or not _redirect_allowed(client, uri):
        return _error_page("Invalid redirect_uri: it does not match one registered for this app")
    if p.get("response_type") != "code":
        return _error_page("unsupported_response_type: response_type must be 'code'")
    scopes = [s for s in p.get("scope", "").split() if s]
    bad = [s for s in scopes if s not in KNOWN_SCOPES]
    if not scopes or bad:
        return _error_page(f"invalid_scope: {' '.join(bad) or '(none requested)'}")
    method = p.get("code_challenge_method")
    if p.get("code_challenge") and method not in (None, "", "S256", "plain"):
        return _error_page("invalid_request: unsupported code_challenge_method")
    return client, scopes


def authorize_page(ctx: Ctx, req: Request) -> Response:
    app = ctx.app
    p = {k: v[-1] for k, v in req.query.items()}
    checked = _validate_authorize(app, p)
    if isinstance(checked, Response):
        return checked
    client, scopes = checked
    hidden = "".join(
        f"<input type='hidden' name='{k}' value='{html.escape(p[k], quote=True)}'>"
        for k in (
            "response_type",
            "client_id",
            "redirect_uri",
            "scope",
            "state",
            "code_challenge",
            "code_challenge_method",
        )
        if k in p
    )
    tenants = "".join(
        f"<label><input type='checkbox' name='tenant' value='{o.tenant_id}'{' checked' if n == 0 else ''}> "
        f"<strong>{html.escape(o.name)}</strong></label>"
        for n, o in enumerate(app.orgs)
    )
    scope_list = "".join(f"<li><code>{html.escape(s)}</code></li>" for s in scopes)
    body = (
        f"<h1>{html.escape(client.name)} wants to access your Xero data</h1>"
        "<form method='post' action='/identity/connect/authorize' class='box'>"
        f"{hidden}<p>Organisations to connect:</p>{tenants}"
        f"<p>Permissions requested:</p><ul>{scope_list}</ul>"
        "<p><button type='submit' name='action' value='allow' class='allow'>Allow access</button> "
        "<button type='submit' name='action' value='deny' class='cancel'>Cancel</button></p></form>"
    )
    return _page("Xero sandbox: allow access", body)


def authorize_submit(ctx: Ctx, req: Request) -> Response:
    app = ctx.app
    multi = req.form_multi()
    p = {k: v[-1] for k, v in multi.items()}
    checked = _validate_authorize(app, p)
    if isinstance(checked, Response):
        return checked
    client, scopes = checked
    uri = p["redirect_uri"]
    state = {"state": p["state"]} if "state" in p else {}
    if p.get("action") != "allow":
        return redirect(_with_query(uri, {"error": "access_denied", **state}))
    tenant_ids = [t for t in multi.get("tenant", []) if t in app.org_by_tenant]
    if not tenant_ids:
        return _error_page("Choose at least one organisation to connect")
    code = secrets.token_hex(32)
    with app.lock:
        grant = app.new_grant(client.client_id, scopes, tenant_ids)
        grant_code = AuthCode(
            grant,
            client.client_id,
            uri,
            app.clock.now() + CODE_LIFETIME,
            p.get("code_challenge") or None,
            p.get("code_challenge_method") or ("plain" if p.get("code_challenge") else None),
        )
        app.codes[code] = grant_code
    return redirect(_with_query(uri, {"code": code, "scope": " ".join(scopes), **state}))


def _client_auth(app: Sandbox, req: Request, form: dict[str, str]) -> tuple[str, bool]:
    """(client_id, authenticated with a secret); raises invalid_client."""
    auth = req.headers.get("authorization", "")
    scheme, _, cred = auth.partition(" ")
    client_id = secret = None
    if scheme.lower() == "basic" and cred:
        try:
            raw = base64.b64decode(cred.strip(), validate=True).decode()
        except (ValueError, UnicodeDecodeError) as e:
            raise oauth_error("invalid_client") from e
        cid, _, sec = raw.partition(":")
        client_id, secret = unquote_plus(cid), unquote_plus(sec)
    elif form.get("client_id"):
        client_id, secret = form["client_id"], form.get("client_secret")
    if not client_id:
        raise oauth_error("invalid_client")
    client = app.clients.get(client_id)
    if client is None:
        raise oauth_error("invalid_client")
    if secret is None or secret == "":
        return client_id, False
    if not secrets.compare_digest(secret, client.client_secret):
        raise oauth_error("invalid_client")
    return client_id, True


def _pkce_ok(code: AuthCode, verifier: str | None) -> bool:
    if code.code_challenge is None:
        return True
    if not verifier:
        return False
    if code.code_challenge_method == "S256":
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        return secrets.compare_digest(digest, code.code_challenge)
    return secrets.compare_digest(verifier, code.code_challenge)


def token(ctx: Ctx, req: Request) -> Response:
    app = ctx.app
    form = req.form()
    client_id, with_secret = _client_auth(app, req, form)
    grant_type = form.get("grant_type", "")
    with app.lock:
        now = app.clock.now()
        if grant_type == "authorization_code":
            code = app.codes.get(form.get("code", ""))
            if code is None or code.used or now >= code.expires or code.client_id != client_id:
                raise oauth_error("invalid_grant")
            if code.redirect_uri != form.get("redirect_uri", ""):
                raise oauth_error("invalid_grant")
            if not with_secret and code.code_challenge is None:
                raise oauth_error("invalid_client")
            if not _pkce_ok(code, form.get("code_verifier")):
                raise oauth_error("invalid_grant")
            code.used = True
            body = app.issue_tokens(code.grant, client_id)
        elif grant_type == "refresh_token":
            tok = form.get("refresh_token", "")
            rt = app.refresh_tokens.get(tok)
            if rt is None or rt.revoked or rt.grant.revoked or rt.client_id != client_id or now >= rt.expires:
                raise oauth_error("invalid_grant")
            if rt.used_at is not None:
                grace = float(app.faults["refresh_grace_seconds"])
                succ = app.refresh_tokens.get(rt.successor or "")
                if now - rt.used_at > grace or (succ is not None and succ.used_at is not None):
                    raise oauth_error("invalid_grant")
                if succ is not None:  # a retry within the grace: its unused successor is replaced
                    succ.revoked = True
            body = app.issue_tokens(rt.grant, client_id, with_id_token=False)
            rt.used_at = rt.used_at if rt.used_at is not None else now
            rt.successor = body.get("refresh_token")
        elif not grant_type:
            raise oauth_error("invalid_request", "grant_type is required")
        else:
            raise oauth_error("unsupported_grant_type")
    return json_response(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})


def revocation(ctx: Ctx, req: Request) -> Response:
    app = ctx.app
    form = req.form()
    client_id, _ = _client_auth(app, req, form)
    tok = form.get("token", "")
    if not tok:
        raise oauth_error("invalid_request", "token is required")
    with app.lock:
        rt = app.refresh_tokens.get(tok)
        if rt is not None and rt.client_id == client_id:
            app.revoke_grant(rt.grant)
        at = app.access_tokens.get(tok)
        if at is not None and at.grant.client_id == client_id:
            del app.access_tokens[tok]
    return Response(200, b"", "text/plain; charset=utf-8")


def _xero_dt(ts: float) -> str:
    """Identity-service date-time: 7 fractional digits, no zone (UTC), like live Xero."""
    frac = int(round((ts - int(ts)) * 10_000_000)) % 10_000_000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(ts))) + f".{frac:07d}"


def connection_json(app: Sandbox, conn: Any) -> dict[str, Any]:
    org = app.org_by_tenant[conn.tenant_id]
    return {
        "id": conn.id,
        "authEventId": conn.auth_event_id,
        "tenantId": conn.tenant_id,
        "tenantType": "ORGANISATION",
        "tenantName": org.name,
        "createdDateUtc": _xero_dt(conn.created),
        "updatedDateUtc": _xero_dt(conn.updated),
    }


def connections(ctx: Ctx, req: Request) -> Response:
    assert ctx.grant is not None
    event = (req.param("authEventId") or "").strip().lower()
    with ctx.app.lock:
        conns = [c for c in ctx.grant.connections.values() if not event or c.auth_event_id == event]
        return json_response(200, [connection_json(ctx.app, c) for c in conns])


def delete_connection(ctx: Ctx, req: Request) -> Response:
    assert ctx.grant is not None
    cid = ctx.params["id"].lower()
    with ctx.app.lock:
        tenant = next((t for t, c in ctx.grant.connections.items() if c.id == cid), None)
        if tenant is None:
            raise not_found()
        del ctx.grant.connections[tenant]
    return Response(204, b"", "text/plain; charset=utf-8")


def register(app: Sandbox) -> None:
    def r(method: str, template: str, handler: Any, auth: str) -> None:
        app.routes.append(Route(method, template, compile_template(template), _wrap(handler), auth))

    r("GET", "/identity/connect/authorize", authorize_page, "none")
    r("POST", "/identity/connect/authorize", authorize_submit, "none")
    r("POST", "/connect/token", token, "none")
    r("POST", "/connect/revocation", revocation, "none")
    r("GET", "/connections", connections, "bearer")
    r("DELETE", "/connections/{id}", delete_connection, "bearer")


def _wrap(handler: Any) -> Any:
    def run(ctx: Ctx, req: Request) -> Response:
        try:
            return handler(ctx, req)
        except ApiError as e:
            return e.response

    return run
