"""The BMS REST API v2 endpoints the sandbox implements (paths from the OpenAPI document)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from . import constants as C
from . import names as N
from .app import ApiError, Request, Response, Route, Sandbox, User, compile_template, ok
from .data import DAY, Filter, Ts, parse_dt
from .pdf import text_pdf
from .schema import ResponseShape

# ---------------------------------------------------------------------- parameter parsing
# (parameter name, record field, op, kind); kinds: str int bool date ints names
FilterSpec = tuple[str, str, str, str]


def _parse(name: str, raw: Any, kind: str) -> Any:
    try:
        if kind == "str":
            s = str(raw).strip().lower()
            return s or None
        if kind == "int":
            return int(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            s = str(raw).strip().lower()
            if s in ("true", "1"):
                return True
            if s in ("false", "0"):
                return False
            raise ValueError(raw)
        if kind == "date":
            return parse_dt(str(raw))
        if kind == "ints":  # BMS multi-value filters: repeated params, JSON lists or comma strings
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return frozenset(int(str(x).strip()) for x in items if str(x).strip())
        if kind == "names":
            items = raw if isinstance(raw, list) else str(raw).split(",")
            return frozenset(str(x).strip().lower() for x in items if str(x).strip())
    except (TypeError, ValueError) as e:
        raise ApiError(400, C.ERR_VALIDATION, f"The value '{raw}' is not valid for {name}.", str(e)) from e
    raise AssertionError(kind)


def query_source(req: Request, prefix: str = "filter.") -> dict[str, Any]:
    """GET filters: lower-cased names without the prefix; repeated values kept as a list."""
    out: dict[str, Any] = {}
    for k, vs in req.query.items():
        if k.startswith(prefix):
            out[k[len(prefix) :]] = vs if len(vs) > 1 else vs[-1]
    return out


def body_source(body: Mapping[str, Any]) -> dict[str, Any]:
    flt = lower_keys(body).get("filter") or {}
    if not isinstance(flt, dict):
        raise ApiError(400, C.ERR_VALIDATION, "Filter must be an object")
    return lower_keys(flt)


def lower_keys(d: Any) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ApiError(400, C.ERR_VALIDATION, "The request body must be a JSON object")
    return {str(k).lower(): v for k, v in d.items()}


def build_filters(src: Mapping[str, Any], specs: list[FilterSpec]) -> tuple[Filter, ...]:
    out: list[Filter] = []
    for pname, fld, op, kind in specs:
        raw = src.get(pname.lower())
        if raw is None or raw == "" or raw == []:
            continue
        if isinstance(raw, list) and kind not in ("ints", "names"):
            raw = raw[-1]
        val = _parse(pname, raw, kind)
        if val is None:
            continue
        out.append((fld, op, val))
    return tuple(sorted(out, key=repr))


def _date_range(param: str, fld: str) -> list[FilterSpec]:
    return [(f"{param}From", fld, "ge", "date"), (f"{param}To", fld, "le", "date")]


def paging(app: Sandbox, src: Mapping[str, Any]) -> tuple[int, int]:
    """PageSize default 10, clamped to max_page_size; PageNumber from 1 (0 or less -> 1)."""
    size = _parse("PageSize", src["pagesize"], "int") if src.get("pagesize") not in (None, "") else 0
    number = _parse("PageNumber", src["pagenumber"], "int") if src.get("pagenumber") not in (None, "") else 1
    if size <= 0:
        size = C.DEFAULT_PAGE_SIZE
    return min(size, app.opts.max_page_size), max(1, number)


def get_paging(app: Sandbox, req: Request) -> tuple[int, int]:
    return paging(app, {k: v[-1] for k, v in req.query.items()})


def page_of(
    app: Sandbox, ent: str, filters: tuple[Filter, ...], size: int, number: int
) -> tuple[list[dict[str, Any]], int]:
    t = app.tenant
    ids = t.query(ent, filters)
    start = (number - 1) * size
    recs = [t.get(ent, i) for i in ids[start : start + size]]
    return [r for r in recs if r is not None], len(ids)


def int_param(params: Mapping[str, str], name: str) -> int:
    try:
        return int(params[name])
    except ValueError as e:
        raise ApiError(400, C.ERR_VALIDATION, f"The value '{params[name]}' is not valid for {name}.") from e


def not_found(what: str, i: Any) -> ApiError:
    return ApiError(404, C.ERR_NOT_FOUND, f"{what} not found", f"No {what.lower()} with id {i}")


# ---------------------------------------------------------------------- security
def authenticate(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    ctype = req.headers.get("content-type", "").lower()
    form = lower_keys(req.json()) if "json" in ctype else req.form()
    grant = (form.get("granttype") or "").strip()
    if not grant:
        raise ApiError(400, C.ERR_VALIDATION, "GrantType can't be empty")
    if grant.lower() != "password":
        raise ApiError(400, C.ERR_VALIDATION, f"Unsupported grant type '{grant}'")
    tenant = (form.get("tenant") or "").strip()
    if not tenant:
        raise ApiError(400, C.ERR_VALIDATION, "Tenant can't be empty")
    if tenant.casefold() != app.opts.tenant.strip().casefold():
        raise ApiError(400, C.ERR_UNKNOWN_TENANT, "Invalid tenant", f"Tenant '{tenant}' was not found")
    u = app.users.get((form.get("username") or "").strip().lower())
    if u is None or u.password != (form.get("password") or ""):
        raise ApiError(401, C.ERR_BAD_CREDENTIALS, "Invalid username or password")
    if not u.has_api_access:
        raise ApiError(
            401,
            C.ERR_NO_API_ACCESS,
            "User does not have API access",
            "Enable Admin > Special Features > Has API Access for the user's role",
        )
    return ok(shape(req), app.issue_token(u.username))


def refresh_token(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    ctype = req.headers.get("content-type", "").lower()
    form = lower_keys(req.json()) if "json" in ctype else req.form()
    access = (form.get("accesstoken") or "").strip()
    refresh = (form.get("refreshtoken") or "").strip()
    if not access:
        raise ApiError(400, C.ERR_VALIDATION, "AccessToken can't be empty")
    with app.lock:
        tok = app.tokens.get(access)
        if not refresh or app.refresh_tokens.get(refresh) != access or tok is None:
            raise ApiError(401, C.ERR_SECURITY, "Security Error", "Invalid refresh token")
        if app.now() >= tok.refresh_expires:
            raise ApiError(401, C.ERR_SECURITY, "Security Error", "Refresh token expired")
        del app.refresh_tokens[refresh]  # refresh tokens are single-use
        u = app.users.get(tok.username)
    if u is None or not u.has_api_access:
        raise ApiError(401, C.ERR_SECURITY, "Security Error", "User no longer has API access")
    return ok(shape(req), app.issue_token(u.username))


def userinfo(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    assert user is not None
    rights = [
        {
            "canView": user.can(m),
            "canModify": user.can(m, "modify"),
            "canDelete": user.can(m, "delete"),
            "mainMenuId": mid,
            "menuCategoryId": mid,
            "listingIDEnum": 0,
        }
        for m, mid in C.MAIN_MENU_IDS.items()
    ]
    info = {
        "userId": user.user_id,
        "fullName": user.full_name,
        "emailAddress": user.username,
        "timeStamp": Ts(app.now()),
        "timeZoneValue": 0.0,
        "timeZoneName": "UTC",
        "olsonTimeZoneName": "Etc/UTC",
        "dateFormat": app.tenant.date_format,
        "timeFormat": "hh:mm tt",
        "timeFormatWithSeconds": "hh:mm:ss tt",
        "tenantId": app.opts.tenant_id,
        "accountId": 1,  # the API user's own account, the MSP's: the sandbox's first account stands for it
        "businessName": app.opts.tenant,
        "userAccessRights": rights,
        "specialFeatures": [{"id": C.HAS_API_ACCESS_FEATURE_ID}] if user.has_api_access else [],
        "viewsMenus": [],
        "queuesMenus": [],
        "currencyCode": app.tenant.currency_code,
        "cultureCode": app.tenant.culture_code,
        "newTicketingUI": True,
        "isUserSystemAdmin": False,
        "productName": "BMS",
    }
    return ok(shape(req), info)


def shape(req: Request) -> ResponseShape:
    assert req.route is not None
    return req.route.shape


# ---------------------------------------------------------------------- CRM
ACCOUNT_FILTERS: list[FilterSpec] = [
    ("AccountName", "accountName", "contains", "str"),
    ("AccountCode", "accountCode", "contains", "str"),
    ("AccountTypeId", "accountTypeId", "eq", "int"),
    ("AccountTypeName", "accountType", "contains", "str"),
    *_date_range("CreatedOn", "createdOn"),
    *_date_range("ModifiedOn", "modifiedOn"),
    ("IsActive", "isActive", "eq", "bool"),
]
CONTACT_FILTERS: list[FilterSpec] = [
    ("AccountId", "accountId", "eq", "int"),
    ("AccountName", "accountName", "contains", "str"),
    ("FirstName", "firstName", "contains", "str"),
    ("LastName", "lastName", "contains", "str"),
    ("Phone", "phoneText", "contains", "str"),
    ("Email", "emailText", "contains", "str"),
    *_date_range("CreatedOn", "createdOn"),
    *_date_range("ModifiedOn", "modifiedOn"),
    ("IsActive", "isActive", "eq", "bool"),
]
CONTACT_SEARCH_FILTERS: list[FilterSpec] = [
    ("Ids", "id", "in", "ints"),
    ("AccountIds", "accountId", "in", "ints"),
    ("AccountName", "accountName", "contains", "str"),
    ("LocationId", "locationId", "eq", "int"),
    ("LocationName", "locationName", "contains", "str"),
    ("FirstName", "firstName", "contains", "str"),
    ("LastName", "lastName", "contains", "str"),
    ("EmailAddress", "emailText", "contains", "str"),
    ("JobTitle", "jobTitle", "contains", "str"),
    ("IsPoc", "isPoc", "eq", "bool"),
    ("HasClientPortalAccess", "hasClientPortalAccess", "eq", "bool"),
    ("IsActive", "isActive", "eq", "bool"),
]


def list_endpoint(ent: str, specs: list[FilterSpec]) -> Any:
    def handler(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
        filters = build_filters(query_source(req), specs)
        size, number = get_paging(app, req)
        recs, total = page_of(app, ent, filters, size, number)
        return ok(shape(req), recs, total)

    return handler


def get_endpoint(ent: str, what: str, param: str) -> Any:
    def handler(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
        i = int_param(params, param)
        rec = app.tenant.get(ent, i)
        if rec is None:
            raise not_found(what, i)
        return ok(shape(req), rec)

    return handler


def _account(app: Sandbox, params: dict[str, str]) -> dict[str, Any]:
    a = int_param(params, "accountId")
    acc = app.tenant.get("accounts", a)
    if acc is None:
        raise not_found("Account", a)
    return acc


def locations_lookup(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    acc = _account(app, params)
    rows = [
        {"id": lo["id"], "name": lo["locationName"], "accountId": acc["id"], "isMain": lo["isMain"]}
        for lo in acc.get("locations") or []
    ]
    return ok(shape(req), rows)


def location_get(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    acc = _account(app, params)
    lid = int_param(params, "locationId")
    loc = next((lo for lo in acc.get("locations") or [] if lo["id"] == lid), None)
    if loc is None:
        raise not_found("Location", lid)
    return ok(shape(req), loc)


def contacts_search(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    filters = build_filters(query_source(req), CONTACT_SEARCH_FILTERS)
    size, number = get_paging(app, req)
    recs, _ = page_of(app, "contacts", filters, size, number)
    rows = [
        {
            **r,
            "emailAddress": next((e["emailAddress"] for e in r.get("emails") or [] if e["isDefault"]), None),
            "locationId": r.get("locationId") or 0,
        }
        for r in recs
    ]
    return ok(shape(req), rows)


# ---------------------------------------------------------------------- finance
CONTRACT_FILTERS: list[FilterSpec] = [
    ("ContractType", "contractType", "contains", "str"),
    ("ContractName", "contractName", "contains", "str"),
    ("BillingCycle", "billingCycle", "contains", "str"),
    ("AccountName", "accountName", "contains", "str"),
    ("Status", "status", "contains", "str"),
]
INVOICE_FILTERS: list[FilterSpec] = [
    ("Id", "id", "eq", "int"),
    ("InvoiceNumber", "invoiceNumber", "contains", "str"),
    ("AccountId", "accountId", "eq", "int"),
    ("AccountName", "accountName", "contains", "str"),
    ("StatusId", "statusId", "eq", "int"),
    ("CreatedFrom", "createdOn", "ge", "date"),
    ("CreatedTo", "createdOn", "le", "date"),
    ("PostedToAccounting", "postedToAccounting", "eq", "bool"),
]
INVOICE_DETAIL_FILTERS: list[FilterSpec] = [
    ("ListInvoiceIds", "id", "in", "ints"),
    ("ListStatusId", "statusId", "in", "ints"),
    *_date_range("InvoiceDate", "invoiceDate"),
    ("PostedToAccounting", "postedToAccounting", "eq", "bool"),
]


def contracts_lookup(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    # this endpoint's parameters have no "Filter." prefix in the document
    src = {k: (v if len(v) > 1 else v[-1]) for k, v in req.query.items()}
    filters = list(
        build_filters(
            src,
            [
                ("Ids", "id", "in", "ints"),
                ("AccountId", "accountId", "eq", "int"),
                ("Name", "contractName", "contains", "str"),
            ],
        )
    )
    recs = [r for i in app.tenant.query("contracts", tuple(filters)) if (r := app.tenant.get("contracts", i))]
    exclude = src.get("excludeexpiredcontracts")
    if exclude is not None and _parse("ExcludeExpiredContracts", exclude, "bool"):
        now = app.now()
        recs = [r for r in recs if r["endDate"] is None or r["endDate"].t >= now]
    return ok(shape(req), [{**r, "name": r["contractName"]} for r in recs])


def invoice_details(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    """Bulk line items: invoices matching Filter, their lines flattened in (invoice id, line id) order."""
    body = lower_keys(req.json())
    filters = build_filters(body_source(body), INVOICE_DETAIL_FILTERS)
    size, number = paging(app, body)
    t = app.tenant
    ids = t.query("invoices", filters)
    start, end = (number - 1) * size, number * size
    lines: list[dict[str, Any]] = []
    # base invoices have exactly lines_per_invoice lines; skip whole invoices arithmetically when we can
    pos = 0
    k = 0
    if not t.overlay["invoices"] and t.lpi > 0:
        k = min(len(ids), start // t.lpi)
        pos = k * t.lpi
    while k < len(ids) and pos < end:
        inv = t.get("invoices", ids[k])
        k += 1
        items = (inv or {}).get("lineItems") or []
        if pos + len(items) > start:
            lines.extend(items[max(0, start - pos) : end - pos])
        pos += len(items)
    return ok(shape(req), lines)


# ---------------------------------------------------------------------- tickets
TICKET_FILTERS: list[FilterSpec] = [
    ("Title", "title", "contains", "str"),
    ("Details", "details", "contains", "str"),
    ("TicketNumber", "ticketNumber", "contains", "str"),
    ("Account", "accountName", "contains", "str"),
    ("AccountCode", "accountCode", "contains", "str"),
    ("LocationName", "locationName", "contains", "str"),
    ("AccountIds", "accountId", "in", "ints"),
    ("ContactName", "contactName", "contains", "str"),
    ("ContactId", "contactId", "eq", "int"),
    ("AccountLocationId", "locationId", "eq", "int"),
    ("AssigneeName", "assigneeName", "contains", "str"),
    ("StatusNames", "statusName", "in_ci", "names"),
    ("QueueNames", "queueName", "in_ci", "names"),
    ("PriorityNames", "priorityName", "in_ci", "names"),
    ("TicketTypeNames", "typeName", "in_ci", "names"),
    ("IssueTypeNames", "issueTypeName", "in_ci", "names"),
    ("SubIssueTypeNames", "subIssueTypeName", "in_ci", "names"),
    ("SourceIds", "sourceId", "in", "ints"),
    *_date_range("OpenDate", "openDate"),
    *_date_range("CompletedDate", "completedDate"),
    *_date_range("LastActivityUpdate", "lastActivityUpdate"),
    *_date_range("CreatedOn", "createdOn"),
    *_date_range("LastStatusUpdate", "lastStatusUpdate"),
    *_date_range("DueDate", "dueDate"),
]


def tickets_search(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    body = lower_keys(req.json())
    src = body_source(body)
    filters = list(build_filters(src, TICKET_FILTERS))
    if src.get("excludecompleted") not in (None, "", 0, "0", False):
        filters.append(("statusId", "in", frozenset(s["id"] for s in C.STATUSES if s["typeId"] == 1)))
    size, number = paging(app, body)
    recs, total = page_of(app, "tickets", tuple(sorted(filters, key=repr)), size, number)
    return ok(shape(req), recs, total)


class Invalid(Exception):
    pass


def validate_ticket_input(app: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """TicketInputDto checks: required fields (bms-api.md §6) and that every id exists."""
    d = lower_keys(body)
    errors: list[str] = []
    out: dict[str, Any] = {}
    for f in ("Title", "Details"):
        v = d.get(f.lower())
        if not isinstance(v, str) or not v.strip():
            errors.append(f"The {f} field is required.")
        else:
            out[f[0].lower() + f[1:]] = v
    ids = (
        "AccountId",
        "LocationId",
        "StatusId",
        "PriorityId",
        "TypeId",
        "SourceId",
        "ContactId",
        "QueueId",
        "IssueTypeId",
        "SubIssueTypeId",
        "ContractId",
        "AssigneeId",
        "WorkTypeId",
        "SLAId",
    )
    required = {"AccountId", "LocationId", "StatusId", "PriorityId", "TypeId", "SourceId"}
    for f in ids:
        v = d.get(f.lower())
        key = f[0].lower() + f[1:]
        if v is None:
            if f in required:
                errors.append(f"The {f} field is required.")
            out[key] = None
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            errors.append(f"The value '{v}' is not valid for {f}.")
            continue
        if v < (0 if f == "SourceId" else 1):
            errors.append(f"The field {f} must be between 1 and 2147483647.")
            continue
        out[key] = v
    for f in ("OpenDate", "DueDate"):
        v = d.get(f.lower())
        key = f[0].lower() + f[1:]
        if v in (None, ""):
            if f == "OpenDate":
                errors.append("The OpenDate field is required.")
            out[key] = None
            continue
        try:
            out[key] = Ts(parse_dt(str(v)))
        except ValueError:
            errors.append(f"The value '{v}' is not valid for {f}.")
    if errors:
        raise ApiError(400, C.ERR_VALIDATION, errors[0], "; ".join(errors))
    t = app.tenant

    def check(ok_: bool, field_: str, what: str) -> None:
        if not ok_:
            errors.append(f"Invalid {field_}: {what} {d[field_.lower()]} does not exist")

    acc = t.get("accounts", out["accountId"])
    check(acc is not None, "AccountId", "account")
    if acc is not None:
        check(
            any(lo["id"] == out["locationId"] for lo in acc.get("locations") or []),
            "LocationId",
            "location of this account",
        )
        if out["contactId"] is not None:
            c = t.get("contacts", out["contactId"])
            check(c is not None and c["accountId"] == acc["id"], "ContactId", "contact of this account")
        if out["contractId"] is not None:
            k = t.get("contracts", out["contractId"])
            check(k is not None and k["accountId"] == acc["id"], "ContractId", "contract of this account")
    check(any(s["id"] == out["statusId"] and s["isActive"] for s in C.STATUSES), "StatusId", "status")
    check(any(p["id"] == out["priorityId"] for p in C.PRIORITIES), "PriorityId", "priority")
    check(any(x["id"] == out["typeId"] for x in C.LOOKUP_TABLES["TicketType"]), "TypeId", "ticket type")
    check(any(x["id"] == out["sourceId"] for x in C.LOOKUP_TABLES["TicketSource"]), "SourceId", "ticket source")
    if out["queueId"] is not None:
        check(any(q["id"] == out["queueId"] and q["isActive"] for q in C.QUEUES), "QueueId", "queue")
    if out["issueTypeId"] is not None:
        check(out["issueTypeId"] in C.ISSUE_SUBTYPES, "IssueTypeId", "issue type")
    if out["subIssueTypeId"] is not None:
        subs = C.ISSUE_SUBTYPES.get(out["issueTypeId"] or -1, ())
        check(any(s["id"] == out["subIssueTypeId"] for s in subs), "SubIssueTypeId", "sub-issue type of the issue type")
    if out["assigneeId"] is not None:
        check(any(x[0] == out["assigneeId"] for x in N.TECHNICIANS), "AssigneeId", "assignee")
    if out["workTypeId"] is not None:
        check(any(x["id"] == out["workTypeId"] for x in C.WORK_TYPES), "WorkTypeId", "work type")
    if out["sLAId"] is not None:
        check(any(x["id"] == out["sLAId"] for x in C.SLAS), "SLAId", "SLA")
    if errors:
        raise ApiError(400, C.ERR_VALIDATION, errors[0], "; ".join(errors))
    return out


def create_ticket(app: Sandbox, fields: dict[str, Any]) -> dict[str, Any]:
    t = app.tenant
    with t.lock:
        now = app.now()
        i = t.new_id("tickets")
        day = now - now % DAY
        daykey = time.strftime("%Y%m%d", time.gmtime(now))
        if day not in app.ticket_day_base:  # generated tickets already numbered on that day
            spec = t.specs["tickets"]
            first = t._first_ge(spec.fast["createdOn"], day, 1, spec.n + 1)
            app.ticket_day_base[day] = t._first_ge(spec.fast["createdOn"], day + DAY, first, spec.n + 1) - first
        app.ticket_seq[daykey] += 1
        number = f"T{daykey}.{app.ticket_day_base[day] + app.ticket_seq[daykey]:04d}"
        sla = next((x for x in C.SLAS if x["id"] == fields.get("sLAId")), None)
        wt = next((x for x in C.WORK_TYPES if x["id"] == fields.get("workTypeId")), None)
        rec: dict[str, Any] = {
            **fields,
            "id": i,
            "ticketNumber": number,
            "createdOn": Ts(now),
            "modifiedOn": Ts(now),
            "lastActivityUpdate": Ts(now),
            "lastStatusUpdate": Ts(now),
            "lastPriorityUpdate": Ts(now),
            "lastQueueUpdate": Ts(now),
            "completedDate": Ts(now) if fields["statusId"] == C.STATUS_COMPLETED else None,
            "sLAName": sla["name"] if sla else None,
            "workTypeName": wt["name"] if wt else None,
        }
        t._fill_ticket(rec)
        t.overlay["tickets"][i] = rec
        t.bump()
    return rec


def ticket_create(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    fields = validate_ticket_input(app, lower_keys(req.json()))
    return ok(shape(req), create_ticket(app, fields))


# ---------------------------------------------------------------------- system
def static_lookup(rows: Any) -> Any:
    def handler(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
        return ok(shape(req), list(rows))

    return handler


def issue_types(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    name = (query_source(req).get("name") or "").strip().lower()
    return ok(shape(req), [r for r in C.ISSUE_TYPES if name in r["name"].lower()])


def issue_subtypes(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    it = int_param(params, "issueTypeId")
    if it not in C.ISSUE_SUBTYPES:
        raise not_found("Issue type", it)
    return ok(shape(req), list(C.ISSUE_SUBTYPES[it]))


def generic_lookup(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    name = params["tableName"].lower()
    rows = next((v for k, v in C.LOOKUP_TABLES.items() if k.lower() == name), None)
    if rows is None:
        raise ApiError(404, C.ERR_NOT_FOUND, f"Lookup table '{params['tableName']}' not found")
    return ok(shape(req), list(rows))


# ---------------------------------------------------------------------- attachments
def has_pdf(invoice_id: int) -> bool:
    return invoice_id % C.INVOICE_WITHOUT_PDF_EVERY != 0


def _attachment_target(app: Sandbox, user: User | None, params: dict[str, str]) -> tuple[int, int, Any]:
    module, obj = int_param(params, "moduleId"), int_param(params, "objectId")
    need = {C.INVOICE_MODULE_ID: "Finance", C.TICKET_MODULE_ID: "ServiceDesk"}.get(module, "Admin")
    if user is not None and not user.can(need):
        raise ApiError(403, C.ERR_FORBIDDEN, f"Access denied: missing {need} View right")
    rec = None
    if module == C.INVOICE_MODULE_ID:
        rec = app.tenant.get("invoices", obj)
        if rec is None:
            raise not_found("Invoice", obj)
    elif module == C.TICKET_MODULE_ID:
        rec = app.tenant.get("tickets", obj)
        if rec is None:
            raise not_found("Ticket", obj)
    return module, obj, rec


def _invoice_attachment(inv: dict[str, Any]) -> dict[str, Any]:
    aid = C.ATTACHMENT_ID_OFFSET + inv["id"]
    base = f"/v2/system/attachments/{C.INVOICE_MODULE_ID}/{inv['id']}/{aid}/download"
    return {
        "id": aid,
        "originalFileName": f"{inv['invoiceNumber']}.pdf",
        "aliasName": f"{inv['invoiceNumber']}-{aid}.pdf",
        "fileType": "application/pdf",
        "objectId": inv["id"],
        "moduleId": C.INVOICE_MODULE_ID,
        "url": base,
        "webUrl": base,
        "createdById": 1,
        "createdByName": "billing",
        "createdOn": inv.get("generatedOn") or inv["createdOn"],
        "isUploadedToBlob": True,
    }


def attachments_list(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    module, obj, rec = _attachment_target(app, user, params)
    rows = [_invoice_attachment(rec)] if module == C.INVOICE_MODULE_ID and has_pdf(obj) else []
    return ok(shape(req), rows, len(rows))


def invoice_pdf(tenant_name: str, inv: dict[str, Any]) -> bytes:
    def d(ts: Any) -> str:
        return ts.iso()[:10] if ts else "-"

    lines = [
        tenant_name,
        "",
        f"INVOICE {inv['invoiceNumber']}",
        f"Invoice date: {d(inv.get('invoiceDate'))}",
        f"Due date: {d(inv.get('dueDate'))}",
        f"Status: {inv.get('statusName')}",
        "",
        f"Bill to: {inv.get('accountName')}",
        f"{inv.get('contactFirstName') or ''} {inv.get('contactLastName') or ''}".strip(),
        f"{inv.get('address1') or ''}",
        f"{inv.get('city') or ''}, {inv.get('state') or ''} {inv.get('zipCode') or ''}",
        "",
    ]
    for li in inv.get("lineItems") or []:
        lines.append(f"{li['name']}: {li['qty']:g} x {li['unitPrice']:.2f} = {li['totalPrice']:.2f}")
    lines += [
        "",
        f"Subtotal: {inv.get('totalPrice') or 0:.2f}",
        f"Discount: {inv.get('discount') or 0:.2f}",
        f"Tax: {inv.get('totalTax') or 0:.2f}",
        f"Grand total: {inv.get('grandTotal') or 0:.2f}",
        f"Paid: {inv.get('paidAmount') or 0:.2f}",
        f"Balance due: {inv.get('paymentDue') or 0:.2f}",
    ]
    return text_pdf(lines, title=f"Invoice {inv['invoiceNumber']}")


def attachment_download(app: Sandbox, req: Request, params: dict[str, str], user: User | None) -> Response:
    module, obj, rec = _attachment_target(app, user, params)
    aid = int_param(params, "attachmentId")
    if module != C.INVOICE_MODULE_ID or not has_pdf(obj) or aid != C.ATTACHMENT_ID_OFFSET + obj:
        raise not_found("Attachment", aid)
    body = invoice_pdf(app.opts.tenant, rec)
    return Response(
        200, body, "application/pdf", {"Content-Disposition": f'attachment; filename="{rec["invoiceNumber"]}.pdf"'}
    )


# ---------------------------------------------------------------------- route table
def register(app: Sandbox) -> None:
    def r(
        method: str, template: str, handler: Any, module: str | None, action: str = "view", auth: bool = True
    ) -> None:
        app.routes.append(Route(method, template, compile_template(template), handler, module, action, auth))

    r("POST", "/v2/security/authenticate", authenticate, None, auth=False)
    r("POST", "/v2/security/refreshtoken", refresh_token, None, auth=False)
    r("GET", "/v2/security/userinfo", userinfo, None)
    r("GET", "/v2/crm/accounts/summary", list_endpoint("accounts", ACCOUNT_FILTERS), "CRM")
    r("GET", "/v2/crm/accounts/summary/{id}", get_endpoint("accounts", "Account", "id"), "CRM")
    r("GET", "/v2/crm/accounts/{accountId}/locations/lookup", locations_lookup, "CRM")
    r("GET", "/v2/crm/accounts/{accountId}/locations/{locationId}", location_get, "CRM")
    r("GET", "/v2/crm/contacts/summary", list_endpoint("contacts", CONTACT_FILTERS), "CRM")
    r("GET", "/v2/crm/contacts/summary/{id}", get_endpoint("contacts", "Contact", "id"), "CRM")
    r("GET", "/v2/crm/contacts/search", contacts_search, "CRM")
    r("GET", "/v2/finance/contracts/summary", list_endpoint("contracts", CONTRACT_FILTERS), "Finance")
    r("GET", "/v2/finance/contracts/lookup", contracts_lookup, "Finance")
    r("GET", "/v2/finance/invoices/summary", list_endpoint("invoices", INVOICE_FILTERS), "Finance")
    r("POST", "/v2/finance/invoices/details", invoice_details, "Finance")
    r("GET", "/v2/finance/invoices/{id}", get_endpoint("invoices", "Invoice", "id"), "Finance")
    r("POST", "/v2/servicedesk/tickets/search", tickets_search, "ServiceDesk")
    r("POST", "/v2/servicedesk/tickets", ticket_create, "ServiceDesk", "modify")
    r("GET", "/v2/servicedesk/tickets/{ticketId}", get_endpoint("tickets", "Ticket", "ticketId"), "ServiceDesk")
    r("GET", "/v2/system/queues/lookup", static_lookup(C.QUEUES), "Admin")
    r("GET", "/v2/system/priorities/lookup", static_lookup(C.PRIORITIES), "Admin")
    r("GET", "/v2/system/statuses/lookup", static_lookup(C.STATUSES), "Admin")
    r("GET", "/v2/system/issuetypes/lookup", issue_types, "Admin")
    r("GET", "/v2/system/issuetypes/{issueTypeId}/issuesubtypes/lookup", issue_subtypes, "Admin")
    r("GET", "/v2/system/lookup/{tableName}", generic_lookup, "Admin")
    r("GET", "/v2/system/attachments/{moduleId}/{objectId}", attachments_list, None)
    r("GET", "/v2/system/attachments/{moduleId}/{objectId}/{attachmentId}/download", attachment_download, None)
