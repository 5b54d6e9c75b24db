"""Control API under /_sandbox/ (not part of BMS, no auth): reset, users, faults, anomalies,
mutations, caches, log."""

from __future__ import annotations

import re
from typing import Any

from . import anomalies
from . import constants as C
from .api import create_ticket, validate_ticket_input
from .app import ApiError, Request, Response, Sandbox, User, full_rights, json_response
from .data import DAY, ENTITIES, Rng, Ts, parse_dt, to_plain

SINGULAR = {
    "account": "accounts",
    "contact": "contacts",
    "contract": "contracts",
    "ticket": "tickets",
    "invoice": "invoices",
}
_DATE_KEY = re.compile(r"(On|Date|Update|From|To)$")


def _entity(name: str) -> str:
    ent = SINGULAR.get(name, name)
    if ent not in ENTITIES:
        raise ApiError(400, 400, f"unknown entity '{name}'")
    return ent


def _apply(rec: dict[str, Any], fields: dict[str, Any]) -> None:
    for k, v in fields.items():
        if k in ("id", "op"):
            continue
        if isinstance(v, str) and (isinstance(rec.get(k), Ts) or _DATE_KEY.search(k)):
            v = Ts(parse_dt(v))
        rec[k] = v


def _rights(spec: dict[str, Any] | None) -> dict[str, dict[str, bool]]:
    """Missing modules (and missing actions of a given module) default to full rights."""
    rights = full_rights()
    for mod, acts in (spec or {}).items():
        name = next((m for m in C.MODULES if m.lower() == str(mod).lower()), None)
        if name is None:
            raise ApiError(400, 400, f"unknown module '{mod}'; known: {list(C.MODULES)}")
        for act, val in (acts or {}).items():
            if act not in ("view", "modify", "delete"):
                raise ApiError(400, 400, f"unknown right '{act}'")
            rights[name][act] = bool(val)
    return rights


def _recompute_invoice(rec: dict[str, Any]) -> None:
    total = round(float(sum(x["totalPrice"] for x in rec["lineItems"])), 2)
    taxable = sum(x["totalPrice"] for x in rec["lineItems"] if x["isTaxable"])
    discount = round(float(sum(x["value"] for x in rec.get("discountItems") or [])), 2)
    tax = round(taxable * (rec.get("salesTaxRate") or 0.0) / 100, 2)
    rec.update(totalPrice=total, totalTax=tax, discount=discount, grandTotal=round(total - discount + tax, 2))
    rec["paymentDue"] = 0.0 if rec["statusId"] == C.INV_VOID else round(rec["grandTotal"] - rec["paidAmount"], 2)


class Mutations:
    def __init__(self, app: Sandbox) -> None:
        self.app = app
        self.t = app.tenant

    def run(self, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        op = str(body.pop("op", ""))
        with self.t.lock:
            now = self.app.now()
            if op == "delete":
                ent = _entity(str(body.get("entity", "")))
                i = int(body["id"])
                if self.t.get(ent, i) is None:
                    raise ApiError(404, 404, f"{ent} {i} not found")
                self.t.overlay[ent].pop(i, None)
                self.t.deleted[ent].add(i)
                self.t.bump()
                return {"deleted": {"entity": ent, "id": i}}
            name, _, verb = op.partition(".")
            handler = getattr(self, f"{name}_{verb}", None)
            if verb == "update" and handler is None:
                handler = self._update
            if handler is None:
                raise ApiError(400, 400, f"unknown op '{op}'")
            result = handler(_entity(name), body, now) if handler == self._update else handler(body, now)
            self.t.bump()
            return result

    def _update(self, ent: str, body: dict[str, Any], now: int) -> dict[str, Any]:
        try:
            rec = self.t.materialise(ent, int(body["id"]))
        except KeyError as e:
            raise ApiError(404, 404, str(e)) from e
        _apply(rec, body)
        if ent == "contacts" and "email" in body:
            self._set_email(rec, body.pop("email"), now)
            rec.pop("email", None)
        rec["modifiedOn"] = Ts(now)
        if ent == "tickets":
            rec["lastActivityUpdate"] = Ts(now)
            self.t._fill_ticket(rec)
        if ent == "invoices":
            _recompute_invoice(rec)
        return {"record": to_plain(rec)}

    def _set_email(self, rec: dict[str, Any], addr: str | None, now: int) -> None:
        rec["emails"] = [e for e in rec.get("emails") or [] if not e["isDefault"]]
        if addr:
            rec["emails"].insert(0, self.t._email(self.t.new_sub_id(), addr, True, Ts(now)))

    # -------------------------------------------------------------- accounts / contacts
    def account_create(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        t = self.t
        a = t.new_id("accounts")
        name = body.pop("accountName", None) or f"Sandbox Account {a}"
        domain = re.sub(r"[^a-z0-9]", "", name.lower())[:30] + ".example"
        loc_id = t.next_location_id
        t.next_location_id += 1
        ts = Ts(now)
        address = {
            "id": t.new_sub_id(),
            "createdBy": 1,
            "createdOn": ts,
            "modifiedBy": 1,
            "modifiedOn": ts,
            "address1": body.pop("address1", "1 Sandbox Way"),
            "address2": None,
            "city": body.pop("city", "Austin"),
            "state": body.pop("state", "TX"),
            "zipCode": body.pop("zipCode", "78701"),
            "countryId": 1,
            "country": "United States",
            "phone": "(512) 555-0100",
            "fax": None,
            "latitude": None,
            "longitude": None,
            "emailAddress": f"info@{domain}",
            "isMain": True,
            "isBilling": True,
            "addressTypeId": 1,
            "addressType": "Office",
        }
        rec: dict[str, Any] = {
            "id": a,
            "createdBy": 1,
            "createdOn": ts,
            "modifiedBy": 1,
            "modifiedOn": ts,
            "parentId": None,
            "accountCode": f"SBX{a:04d}",
            "accountTypeId": 1,
            "accountType": "Customer",
            "accountName": name,
            "businessTypeId": None,
            "businessType": None,
            "serviceTypeId": 1,
            "serviceType": "Managed Services",
            "accountManagerId": 1,
            "accountManagerUserName": "alex.morgan",
            "currencyId": 1,
            "currencyName": t.currency_code,
            "creditLimit": 0.0,
            "netDays": 30.0,
            "salesTaxItemId": None,
            "salesTaxItemName": "Exempt",
            "salesTaxRate": 0.0,
            "website": None,
            "description": None,
            "classId": None,
            "className": None,
            "isActive": True,
            "isBilling": True,
            "acquiredDate": Ts(now - now % DAY),
            "tenantName": self.app.opts.tenant,
            "_domain": domain,
            "locations": [
                {
                    "id": loc_id,
                    "createdBy": 1,
                    "createdOn": ts,
                    "modifiedBy": 1,
                    "modifiedOn": ts,
                    "locationName": "Main Office",
                    "isMain": True,
                    "isActive": True,
                    "timeZoneId": None,
                    "dateFormatId": None,
                    "timeFormatId": None,
                    "addresses": [address],
                    "accountId": a,
                }
            ],
        }
        contact_spec = body.pop("contact", {})
        _apply(rec, body)
        t.overlay["accounts"][a] = rec
        related = []
        if contact_spec is not None:
            spec = {
                "firstName": "Pat",
                "lastName": "Billing",
                "isPoc": True,
                "canRecieveInvoices": True,
                "email": f"billing@{domain}",
                **contact_spec,
                "accountId": a,
            }
            related.append(self.contact_create(spec, now)["record"])
        return {"record": to_plain(rec), "contacts": related}

    def contact_create(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        t = self.t
        a = int(body.pop("accountId"))
        acc = t.get("accounts", a)
        if acc is None:
            raise ApiError(404, 404, f"accounts {a} not found")
        c = t.new_id("contacts")
        ts = Ts(now)
        loc = (acc.get("locations") or [{}])[0]
        email = body.pop("email", None)
        rec: dict[str, Any] = {
            "id": c,
            "createdBy": 1,
            "createdOn": ts,
            "modifiedBy": 1,
            "modifiedOn": ts,
            "accountId": a,
            "accountName": acc["accountName"],
            "locationId": loc.get("id"),
            "locationName": loc.get("locationName"),
            "firstName": "New",
            "lastName": "Contact",
            "jobTitle": None,
            "isPoc": False,
            "isActive": True,
            "effectiveDate": ts,
            "isBillable": True,
            "emails": [],
            "phones": [],
            "canRecieveInvoices": False,
            "hasClientPortalAccess": False,
        }
        _apply(rec, body)
        if email:
            self._set_email(rec, email, now)
        t.overlay["contacts"][c] = rec
        return {"record": to_plain(rec)}

    # -------------------------------------------------------------- invoices
    def invoice_create(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        t = self.t
        a = int(body.pop("accountId"))
        acc = t.get("accounts", a)
        if acc is None:
            raise ApiError(404, 404, f"accounts {a} not found")
        i = t.new_id("invoices")
        number = body.pop("invoiceNumber", None) or f"INV-{10000 + i}"
        inv_date = parse_dt(body.pop("invoiceDate")) if body.get("invoiceDate") else now - now % DAY
        lines_in = body.pop("lines", None) or [{"name": "Managed Services - Per User", "qty": 10, "unitPrice": 95.0}]
        lines = []
        for spec in lines_in:
            lid = t.next_line_id
            t.next_line_id += 1
            qty, unit = float(spec.get("qty", 1)), float(spec.get("unitPrice", 100.0))
            lines.append(
                {
                    "id": lid,
                    "invoiceId": i,
                    "invoiceNumber": number,
                    "name": spec.get("name", "Service"),
                    "description": spec.get("description"),
                    "typeId": spec.get("typeId", 1),
                    "typeName": spec.get("typeName", "Recurring Service"),
                    "gLAccountId": None,
                    "gLAccountCode": None,
                    "gLAccountName": None,
                    "classId": None,
                    "className": None,
                    "qty": qty,
                    "unitPrice": unit,
                    "totalPrice": round(qty * unit, 2),
                    "valueDate": Ts(inv_date),
                    "contractId": spec.get("contractId", 0),
                    "contractName": None,
                    "isTaxable": bool(spec.get("isTaxable", False)),
                }
            )
        status = int(body.pop("statusId", C.INV_SENT))
        rec: dict[str, Any] = {
            "id": i,
            "invoiceNumber": number,
            "statusId": status,
            "accountId": a,
            "accountName": acc["accountName"],
            "createdOn": Ts(now),
            "invoiceDate": Ts(inv_date),
            "dueDate": Ts(inv_date + int(acc.get("netDays") or 30) * DAY),
            "lineItems": lines,
            "discountItems": [],
            "postedToAccounting": bool(body.pop("postedToAccounting", False)),
        }
        t._fill_invoice(rec, acc, Rng(i))
        rec["modifiedOn"] = Ts(now)
        _apply(rec, body)
        _recompute_invoice(rec)
        t.overlay["invoices"][i] = rec
        return {"record": to_plain(rec)}

    def invoice_pay(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        try:
            rec = self.t.materialise("invoices", int(body["id"]))
        except KeyError as e:
            raise ApiError(404, 404, str(e)) from e
        if rec["statusId"] in (C.INV_VOID, C.INV_DRAFT):
            raise ApiError(400, 400, f"cannot pay a {rec['statusName']} invoice")
        due = round(rec["grandTotal"] - rec["paidAmount"], 2)
        amount = round(float(body.get("amount") if body.get("amount") is not None else due), 2)
        if amount <= 0:
            raise ApiError(400, 400, "amount must be positive")
        rec["paidAmount"] = round(min(rec["grandTotal"], rec["paidAmount"] + amount), 2)
        rec["paymentDue"] = round(rec["grandTotal"] - rec["paidAmount"], 2)
        rec["statusId"] = C.INV_PAID if rec["paymentDue"] <= 0 else C.INV_PARTIAL
        rec["statusName"] = C.INVOICE_STATUSES[rec["statusId"]]
        rec["modifiedOn"] = Ts(now)
        return {"record": to_plain(rec)}

    # -------------------------------------------------------------- tickets
    def ticket_activity(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        try:
            rec = self.t.materialise("tickets", int(body["id"]))
        except KeyError as e:
            raise ApiError(404, 404, str(e)) from e
        rec["lastActivityUpdate"] = rec["modifiedOn"] = Ts(now)
        return {"record": to_plain(rec)}

    def ticket_create(self, body: dict[str, Any], now: int) -> dict[str, Any]:
        a = int(body.get("accountId", 0))
        acc = self.t.get("accounts", a)
        if acc is None:
            raise ApiError(404, 404, f"accounts {a} not found")
        dto = {
            "Title": "Sandbox ticket",
            "Details": "Created through the sandbox control API",
            "StatusId": 1,
            "PriorityId": 2,
            "TypeId": 1,
            "SourceId": 1,
            "LocationId": acc["locations"][0]["id"],
            "OpenDate": Ts(now).iso(),
        }
        for k, v in body.items():
            dto[k[:1].upper() + k[1:]] = v
        fields = validate_ticket_input(self.app, {k: v for k, v in dto.items()})
        return {"record": to_plain(create_ticket(self.app, fields))}


def _records(app: Sandbox, entity: str) -> list[dict[str, Any]]:
    t = app.tenant
    if entity == "invoice_lines":
        invoices = (t.get("invoices", i) or {} for i in t.query("invoices", ()))
        records = [to_plain(li) for inv in invoices for li in inv.get("lineItems", [])]
    else:
        ent = _entity(entity)
        records = [to_plain(r) for i in t.query(ent, ()) if (r := t.get(ent, i)) is not None]
    # As the API shows them: the anomalies switched on (anomalies.py) included.
    anomalies.apply_to_records(app.anomalies, entity if entity == "invoice_lines" else _entity(entity), records)
    return records


def handle_control(app: Sandbox, req: Request) -> Response:
    path = req.path.rstrip("/").lower()
    m = req.method
    body: Any = req.json() if req.body else {}
    try:
        if path == "/_sandbox/health" and m == "GET":
            counts = {e: app.tenant.count(e) for e in ENTITIES}
            return json_response(
                200,
                {
                    "status": "ok",
                    "tenant": app.opts.tenant,
                    "counts": counts,
                    "anchor": Ts(app.tenant.anchor).iso(),
                    "now": Ts(app.now()).iso(),
                },
            )
        if path == "/_sandbox/reset" and m == "POST":
            app.reset()
            if app.xero_importer is not None:
                app.xero_importer.reset()
            return json_response(200, {"ok": True})
        if path.startswith("/_sandbox/xero") and app.xero_importer is not None:
            importer = app.xero_importer
            if path == "/_sandbox/xero/import" and m == "POST":
                if body.get("xero_url"):
                    importer.configure(url=str(body["xero_url"]))
                try:
                    return json_response(200, importer.run_once())
                except OSError as e:  # the Xero sandbox is down or unreachable
                    return json_response(502, {"error": f"Xero sandbox unreachable: {e}"})
            if path == "/_sandbox/xero" and m == "PUT":
                importer.configure(body.get("url"), body.get("interval_seconds"))
            if path == "/_sandbox/xero" and m in ("GET", "PUT"):
                return json_response(200, importer.state())
        if path == "/_sandbox/users" and m == "POST":
            username = str(body["username"])
            with app.lock:
                old = app.users.get(username.lower())
                uid = old.user_id if old else max((u.user_id for u in app.users.values()), default=0) + 1
                app.users[username.lower()] = User(
                    uid,
                    username,
                    str(body.get("password", "")),
                    bool(body.get("has_api_access", True)),
                    _rights(body.get("rights")),
                    str(body.get("full_name", "API User")),
                )
            return json_response(200, {"ok": True, "userId": uid})
        if path == "/_sandbox/locale":
            if m == "PUT":
                fields = ("currency_code", "culture_code", "date_format")
                return json_response(200, app.tenant.set_locale(*(body.get(name) for name in fields)))
            if m == "GET":
                return json_response(200, app.tenant.locale())
        if path == "/_sandbox/caches/reset" and m == "POST":
            return json_response(200, app.tenant.drop_caches())
        if path == "/_sandbox/caches" and m == "GET":
            return json_response(200, app.tenant.cache_sizes())
        if path == "/_sandbox/anomalies":
            if m == "PUT":
                return json_response(200, app.set_anomalies(body))
            if m == "GET":
                return json_response(200, app.anomalies_shown())
        if path == "/_sandbox/faults":
            if m == "PUT":
                return json_response(200, app.set_faults(body))
            if m == "GET":
                return json_response(200, app.faults)
        if path == "/_sandbox/clock":
            if m == "PUT":
                with app.lock:
                    app.tenant.clock_offset = int(body.get("offset_seconds", 0))
            if m in ("PUT", "GET"):
                return json_response(200, {"offset_seconds": app.tenant.clock_offset, "now": Ts(app.now()).iso()})
        if path == "/_sandbox/mutations" and m == "POST":
            return json_response(200, Mutations(app).run(body))
        if path == "/_sandbox/requests":
            if m == "GET":
                with app.lock:
                    log, fired = dict(app.request_log), dict(app.faults_fired)
                    pages = {key: list(numbers) for key, numbers in app.request_pages.items()}
                answer = {"total": sum(log.values()), "by_endpoint": log, "faults_fired": fired, "pages": pages}
                return json_response(200, answer)
            if m == "DELETE":
                with app.lock:
                    app.request_log.clear()
                    app.faults_fired.clear()
                    app.request_pages.clear()
                return json_response(200, {"ok": True})
        if path.startswith("/_sandbox/records/") and m == "GET":
            response = json_response(200, _records(app, path.rsplit("/", 1)[-1]))
            response.body = anomalies.encode_raw_numbers(response.body)
            return response
    except ApiError as e:
        return json_response(e.status, {"error": e.message})
    except (KeyError, TypeError, ValueError) as e:
        return json_response(400, {"error": f"{type(e).__name__}: {e}"})
    return json_response(404, {"error": f"no control endpoint {m} {req.path}"})
