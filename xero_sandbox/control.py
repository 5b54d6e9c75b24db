"""Control API under /_sandbox/ (not part of Xero, no auth) and the `/` page.

Everything a test or the demo needs to steer the sandbox: reset, OAuth clients, a
shortcut grant, faults, limits, the clock, the request log, the payments created
through the API, and data mutations. Secrets are never echoed (client listings omit them).
"""

from __future__ import annotations

import calendar
import html
import time
from typing import Any
from urllib.parse import urlencode

from .api import apply_payment, delete_payment, render_payment
from .app import DEFAULT_CLIENT_ID, ApiError, Client, Request, Response, Sandbox, html_response, json_response
from .data import DAY, Org, cents, iso_date, money


def _org(app: Sandbox, body: dict[str, Any] | None = None, query: Request | None = None) -> Org:
    tenant = (body or {}).get("tenant_id") or (query.param("tenant_id") if query else None)
    if not tenant:
        return app.main
    org = app.org_by_tenant.get(str(tenant).lower())
    if org is None:
        raise ApiError(json_response(404, {"error": f"unknown tenant {tenant}"}))
    return org


def payments_created(app: Sandbox, org: Org) -> list[dict[str, Any]]:
    """Payments created through the API (deleted ones included), oldest first."""
    out = []
    with org.lock:
        for p in org.created_payments:
            rec = org.payment(p)
            if rec is None:
                continue
            inv = org.invoice(rec["invoice"]) or {}
            out.append(
                {
                    "PaymentID": org.guids.make("payment", p),
                    "InvoiceID": org.guids.make("invoice", rec["invoice"]),
                    "InvoiceNumber": inv.get("number"),
                    "Amount": money(rec["amount_c"]),
                    "Reference": rec["reference"],
                    "Status": rec["status"],
                    "Date": iso_date(rec["date_ts"])[:10],
                    "AccountCode": rec["account"],
                    "CreatedAt": iso_date(rec["created_ts"]) + "Z",
                    "UpdatedAt": iso_date(rec["updated_ts"]) + "Z",
                    "tenantId": org.tenant_id,
                }
            )
    return out


def _invoice_index(org: Org, key: Any) -> int:
    k = str(key)
    i = org.guids.index("invoice", k)
    if i is None:
        i = org.invoice_index_by_number(k)
    if i is None and k.isdigit():
        i = int(k)
    if i is None or org.invoice(i) is None:
        raise ApiError(json_response(404, {"error": f"invoice {key} not found"}))
    return i


def _mutate(app: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    org = _org(app, body)
    op = str(body.get("op", ""))
    now = app.now()
    with org.lock:
        if op == "contact.update":
            key = str(body.get("contact", ""))
            c = org.guids.index("contact", key) or (int(key) if key.isdigit() else None)
            rec = org.contact(c) if c else None
            if rec is None or c is None:
                raise ApiError(json_response(404, {"error": f"contact {key} not found"}))
            rec = dict(rec)
            mapping = {
                "Name": "name",
                "EmailAddress": "email",
                "AccountNumber": "account_number",
                "ContactStatus": "status",
            }
            for k, v in body.items():
                if k in mapping:
                    rec[mapping[k]] = v
            rec["updated_ts"] = now
            org.contact_overlay[c] = rec
            org.bump()
            return {"ContactID": org.guids.make("contact", c), "updated": True}
        if op == "invoice.update":
            i = _invoice_index(org, body.get("invoice"))
            rec = org.materialise_invoice(i)
            if "Status" in body:
                rec["status"] = str(body["Status"]).upper()
            if "Reference" in body:
                rec["reference"] = str(body["Reference"])
            if "DueDate" in body:
                rec["due_ts"] = calendar.timegm(time.strptime(str(body["DueDate"])[:10], "%Y-%m-%d"))
            rec["updated_ts"] = now
            org.bump()
            return {"InvoiceID": org.guids.make("invoice", i), "Status": rec["status"]}
        if op == "payment.create":
            i = _invoice_index(org, body.get("invoice"))
            inv = org.invoice(i)
            assert inv is not None
            due = inv["total_c"] - inv["paid_c"]
            amount = cents(body["amount"]) if body.get("amount") is not None else due
            if inv["status"] != "AUTHORISED" or not 0 < amount <= due:
                raise ApiError(json_response(400, {"error": "invoice not payable for that amount"}))
            rec = apply_payment(
                org, i, str(body.get("account", "090")), now - now % DAY, amount, str(body.get("reference", "")), now
            )
            return {"payment": render_payment(org, rec)}
        if op == "payment.delete":
            key = str(body.get("payment", ""))
            p = org.guids.index("payment", key)
            if p is None or org.payment(p) is None:
                raise ApiError(json_response(404, {"error": f"payment {key} not found"}))
            return {"payment": render_payment(org, delete_payment(org, p, now))}
    raise ApiError(json_response(400, {"error": f"unknown op '{op}'"}))


def handle_control(app: Sandbox, req: Request) -> Response:
    path = req.path.rstrip("/").lower()
    m = req.method
    try:
        body: Any = req.json() if req.body else {}
        if path == "/_sandbox/health" and m == "GET":
            tenants = [
                {
                    "tenantId": o.tenant_id,
                    "name": o.name,
                    "contacts": o.contact_count(),
                    "invoices": len(o.invoice_ids()) if o._inv_ids is not None else None,
                    "main": o is app.main,
                }
                for o in app.orgs
            ]
            return json_response(
                200,
                {
                    "status": "ok",
                    "tenants": tenants,
                    "anchor": iso_date(app.main.bms.anchor) + "Z",
                    "now": iso_date(app.now()) + "Z",
                    "default_client_id": DEFAULT_CLIENT_ID,
                },
            )
        if path == "/_sandbox/reset" and m == "POST":
            app.reset()
            return json_response(200, {"ok": True})
        if path == "/_sandbox/clients":
            if m == "POST":
                cid, secret = str(body["client_id"]), str(body["client_secret"])
                uris = body.get("redirect_uris")
                with app.lock:
                    app.clients[cid] = Client(
                        cid, secret, str(body.get("name", "Sandbox app")), list(uris) if uris else None
                    )
                return json_response(200, {"client_id": cid})
            if m == "GET":
                with app.lock:
                    rows = [
                        {"client_id": c.client_id, "name": c.name, "redirect_uris": c.redirect_uris}
                        for c in app.clients.values()
                    ]
                return json_response(200, rows)
        if path == "/_sandbox/grants" and m == "POST":
            cid = str(body.get("client_id", DEFAULT_CLIENT_ID))
            if cid not in app.clients:
                return json_response(400, {"error": f"unknown client {cid}"})
            scopes = body.get("scopes") or [
                "openid", "profile", "email", "offline_access",
                "accounting.transactions", "accounting.contacts", "accounting.settings",
            ]  # fmt: skip
            tenants = [str(t).lower() for t in body.get("tenant_ids") or [app.main.tenant_id]]
            if any(t not in app.org_by_tenant for t in tenants):
                return json_response(400, {"error": "unknown tenant id"})
            with app.lock:
                grant = app.new_grant(cid, list(scopes), tenants)
                tokens = app.issue_tokens(grant, cid)
            return json_response(200, {**tokens, "tenant_ids": tenants})
        if path == "/_sandbox/tokens/expire" and m == "POST":
            return json_response(200, {"expired": app.expire_access_tokens()})
        if path == "/_sandbox/faults":
            if m == "PUT":
                return json_response(200, app.set_faults(body))
            if m == "GET":
                return json_response(200, app.faults)
        if path == "/_sandbox/limits":
            if m == "PUT":
                return json_response(200, app.set_limits(body))
            if m == "GET":
                return json_response(200, app.limits)
        if path == "/_sandbox/clock":
            if m == "PUT":
                app.clock.set(float(body.get("offset_seconds", 0)), body.get("frozen_at"))
            if m in ("PUT", "GET"):
                return json_response(200, app.clock.state())
        if path == "/_sandbox/clock/advance" and m == "POST":
            app.clock.advance(float(body.get("seconds", 0)))
            return json_response(200, app.clock.state())
        if path == "/_sandbox/requests":
            if m == "GET":
                with app.lock:
                    counts = dict(app.request_counts)
                    recent = list(app.request_log)[-200:]
                return json_response(200, {"total": sum(counts.values()), "by_endpoint": counts, "recent": recent})
            if m == "DELETE":
                with app.lock:
                    app.request_counts.clear()
                    app.request_log.clear()
                return json_response(200, {"ok": True})
        if path == "/_sandbox/payments" and m == "GET":
            return json_response(200, payments_created(app, _org(app, query=req)))
        if path == "/_sandbox/mutations" and m == "POST":
            return json_response(200, _mutate(app, body))
    except ApiError as e:
        return e.response
    except (KeyError, TypeError, ValueError) as e:
        return json_response(400, {"error": f"{type(e).__name__}: {e}"})
    return json_response(404, {"error": f"no control endpoint {m} {req.path}"})


def home_page(app: Sandbox) -> Response:
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(str(p[k]))}</td>"
            for k in ("CreatedAt", "InvoiceNumber", "Amount", "Reference", "Status", "PaymentID")
        )
        + "</tr>"
        for p in reversed(payments_created(app, app.main))
    )
    table = (
        "<table><tr><th>Created</th><th>Invoice</th><th>Amount</th><th>Reference</th><th>Status</th><th>PaymentID</th></tr>"
        f"{rows}</table>"
        if rows
        else "<p><em>No payments created through the API yet.</em></p>"
    )
    consent = "/identity/connect/authorize?" + html.escape(
        urlencode(
            {
                "response_type": "code",
                "client_id": DEFAULT_CLIENT_ID,
                "redirect_uri": "http://127.0.0.1:8000/callback",
                "scope": "openid offline_access accounting.transactions",
                "state": "demo",
            }
        )
    )
    tenants = "".join(f"<li>{html.escape(o.name)} <code>{o.tenant_id}</code></li>" for o in app.orgs)
    doc = f"""<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Xero sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#1e2a38}}
table{{border-collapse:collapse}}td,th{{border:1px solid #cfd8e3;padding:.25rem .5rem;font-size:.9rem}}
code{{background:#f1f4f8;padding:0 .2rem}}</style></head><body>
<h1>Xero sandbox</h1>
<p>A fake Xero (OAuth 2.0 identity service and Accounting API) for development and tests of the
ConnectBooster portal. Its main organisation holds what the BMS sandbox's tenant exported to Xero.
Not Xero; nothing here is real money.</p>
<h2>Organisations</h2><ul>{tenants}</ul>
<h2>Links</h2><ul>
<li>Consent page (demo client): <a href="{consent}">/identity/connect/authorize</a></li>
<li>Token endpoint: <code>POST /connect/token</code>, revocation: <code>POST /connect/revocation</code>,
connections: <code>GET /connections</code></li>
<li>Accounting API base: <code>/api.xro/2.0</code> (Contacts, Invoices, Payments, Accounts, Organisation)</li>
<li>Control API: <a href="/_sandbox/health">/_sandbox/health</a>, <a href="/_sandbox/payments">/_sandbox/payments</a>,
<a href="/_sandbox/requests">/_sandbox/requests</a>, <a href="/_sandbox/limits">/_sandbox/limits</a>,
<a href="/_sandbox/faults">/_sandbox/faults</a></li>
</ul>
<h2>Payments created through the API</h2>{table}
</body></html>"""
    return html_response(200, doc)
