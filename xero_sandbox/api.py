"""The Accounting API endpoints (under /api.xro/2.0): Contacts, Invoices, Payments, Accounts,
Organisation.

Invariants:

* Lists are ordered by index ascending (contacts: BMS account id; invoices: BMS invoice id,
  i.e. invoice date; payments: generated ones by invoice, then created ones in order).
  `order` is accepted and ignored.
* Without `page` a list returns every match (invoices then carry no LineItems, as Xero);
  with `page` it returns `pageSize` items (default 100, clamped to 1..1000) and a
  `pagination` object.
* Filters are evaluated on cheap, generated facts when they cover the filter, and on the
  rendered record otherwise: the answer is the same either way.
* A payment either applies completely or not at all; with `summarizeErrors=true` (the
  default) one invalid payment in a batch rejects the whole batch.
"""

from __future__ import annotations

import calendar
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Any

from bms_sandbox.pdf import text_pdf

from .app import (
    API_BASE,
    ApiError,
    Ctx,
    Request,
    Response,
    Route,
    Sandbox,
    compile_template,
    envelope,
    json_response,
    not_found,
    validation_error,
    xero_error,
)
from .data import ACCOUNTS, DAY, UPDATE_LAG, Org, cents, iso_date, money, ms_date, parse_ms_date, parse_since
from .where import WhereError, equalities, evaluate, parse_where

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

CONTACT_FIELDS = {
    "ContactID", "ContactNumber", "AccountNumber", "ContactStatus", "Name", "FirstName", "LastName",
    "EmailAddress", "ContactPersons", "Addresses", "Phones", "IsSupplier", "IsCustomer", "UpdatedDateUTC",
    "DefaultCurrency", "Website", "BankAccountDetails", "TaxNumber", "HasAttachments", "ContactGroups",
}  # fmt: skip
INVOICE_FIELDS = {
    "Type", "Contact", "LineItems", "Date", "DueDate", "LineAmountTypes", "InvoiceNumber", "Reference",
    "CurrencyCode", "CurrencyRate", "Status", "SentToContact", "SubTotal", "TotalTax", "Total", "InvoiceID",
    "HasAttachments", "IsDiscounted", "Payments", "AmountDue", "AmountPaid", "FullyPaidOnDate",
    "AmountCredited", "UpdatedDateUTC", "CreditNotes", "Prepayments", "Overpayments", "HasErrors",
    "ExpectedPaymentDate", "PlannedPaymentDate", "BrandingThemeID", "Url",
}  # fmt: skip
PAYMENT_FIELDS = {
    "Invoice", "Account", "Date", "CurrencyRate", "Amount", "BankAmount", "Reference", "IsReconciled", "Status",
    "PaymentType", "UpdatedDateUTC", "PaymentID", "HasAccount", "HasValidationErrors",
}  # fmt: skip
ACCOUNT_FIELDS = {
    "AccountID", "Code", "Name", "Type", "BankAccountNumber", "Status", "Description", "BankAccountType",
    "CurrencyCode", "TaxType", "EnablePaymentsToAccount", "ShowInExpenseClaims", "Class", "SystemAccount",
    "ReportingCode", "ReportingCodeName", "HasAttachments", "UpdatedDateUTC", "AddToWatchlist",
}  # fmt: skip
ACCOUNT_CLASS = {
    "BANK": "ASSET", "CURRENT": "ASSET", "REVENUE": "REVENUE", "OTHERINCOME": "REVENUE", "OVERHEADS": "EXPENSE",
}  # fmt: skip


# ---------------------------------------------------------------------- rendering
def render_contact(org: Org, rec: dict[str, Any], summary: bool = False) -> dict[str, Any]:
    area, number = rec["phone"]
    out: dict[str, Any] = {
        "ContactID": org.guids.make("contact", rec["idx"]),
        "ContactStatus": rec["status"],
        "Name": rec["name"],
    }
    if rec.get("account_number"):
        out["AccountNumber"] = rec["account_number"]
    if rec["first"]:
        out["FirstName"] = rec["first"]
    if rec["last"]:
        out["LastName"] = rec["last"]
    if rec["email"]:
        out["EmailAddress"] = rec["email"]
    if summary:
        return out
    out.update(
        {
            "BankAccountDetails": "",
            "ContactPersons": [dict(p) for p in rec["persons"]],
            "Addresses": [dict(a) for a in rec["addresses"]],
            "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": number, "PhoneAreaCode": area, "PhoneCountryCode": ""}],
            "UpdatedDateUTC": ms_date(rec["updated_ts"]),
            "ContactGroups": [],
            "IsSupplier": False,
            "IsCustomer": True,
            "DefaultCurrency": "USD",
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
    )
    if rec.get("website"):
        out["Website"] = rec["website"]
    return out


def invoice_contact(org: Org, c: int) -> dict[str, Any]:
    rec = org.contact(c)
    out = {"ContactID": org.guids.make("contact", c), "Name": rec["name"] if rec else ""}
    if rec and rec.get("account_number"):
        out["AccountNumber"] = rec["account_number"]
    out.update({"Addresses": [], "Phones": [], "ContactGroups": [], "ContactPersons": [], "HasValidationErrors": False})
    return out


def payment_brief(org: Org, p: dict[str, Any]) -> dict[str, Any]:
    return {
        "PaymentID": org.guids.make("payment", p["idx"]),
        "Date": ms_date(p["date_ts"]),
        "Amount": money(p["amount_c"]),
        "Reference": p["reference"],
        "CurrencyRate": 1.0,
        "HasAccount": False,
        "HasValidationErrors": False,
    }


def render_invoice(org: Org, rec: dict[str, Any], lines: bool = True, summary: bool = False) -> dict[str, Any]:
    i = rec["idx"]
    payments = [p for pid in org.invoice_payment_ids(i) if (p := org.payment(pid)) and p["status"] == "AUTHORISED"]
    due_c = 0 if rec["status"] == "VOIDED" else rec["total_c"] - rec["paid_c"]
    out: dict[str, Any] = {
        "Type": "ACCREC",
        "InvoiceID": org.guids.make("invoice", i),
        "InvoiceNumber": rec["number"],
        "Reference": rec["reference"],
        "Payments": [payment_brief(org, p) for p in payments],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": money(due_c),
        "AmountPaid": money(rec["paid_c"]),
        "AmountCredited": 0.0,
        "CurrencyRate": 1.0,
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "Contact": invoice_contact(org, rec["contact"]),
        "DateString": iso_date(rec["date_ts"]),
        "Date": ms_date(rec["date_ts"]),
        "DueDateString": iso_date(rec["due_ts"]),
        "DueDate": ms_date(rec["due_ts"]),
        "Status": rec["status"],
        "LineAmountTypes": "Exclusive",
        "LineItems": [],
        "SubTotal": money(rec["subtotal_c"]),
        "TotalTax": money(rec["tax_c"]),
        "Total": money(rec["total_c"]),
        "UpdatedDateUTC": ms_date(rec["updated_ts"]),
        "CurrencyCode": rec["currency"],
        "SentToContact": rec["sent"],
    }
    if rec.get("fully_paid_ts"):
        out["FullyPaidOnDate"] = ms_date(rec["fully_paid_ts"] - rec["fully_paid_ts"] % DAY)
    if summary:
        for k in ("Payments", "CreditNotes", "Prepayments", "Overpayments", "LineItems"):
            out.pop(k)
        return out
    if lines:
        out["LineItems"] = [
            {
                "LineItemID": org.guids.make("line", li["id"]),
                "Description": li["description"],
                "Quantity": li["qty"],
                "UnitAmount": li["unit"],
                "AccountCode": li["account"],
                "TaxType": "OUTPUT" if li["taxable"] else "NONE",
                "TaxAmount": money(li["tax_c"]),
                "LineAmount": money(li["amount_c"]),
                "Tracking": [],
            }
            for li in rec["lines"]
        ]
    return out


def render_account(org: Org, n: int) -> dict[str, Any]:
    code, name, type_, bank_type, payments, status, system = ACCOUNTS[n - 1]
    out: dict[str, Any] = {
        "AccountID": org.guids.make("account", n),
        "Code": code,
        "Name": name,
        "Status": status,
        "Type": type_,
        "TaxType": "NONE",
        "Class": ACCOUNT_CLASS[type_],
        "EnablePaymentsToAccount": payments,
        "ShowInExpenseClaims": False,
        "ReportingCode": "ASS" if ACCOUNT_CLASS[type_] == "ASSET" else "REV",
        "ReportingCodeName": "Assets" if ACCOUNT_CLASS[type_] == "ASSET" else "Revenue",
        "HasAttachments": False,
        "UpdatedDateUTC": ms_date(org.bms.anchor - 900 * DAY),
        "AddToWatchlist": False,
    }
    if bank_type:
        out.update({"BankAccountType": bank_type, "BankAccountNumber": f"12100035{n:04d}", "CurrencyCode": "USD"})
    if system:
        out["SystemAccount"] = system
    return out


def render_payment(org: Org, p: dict[str, Any]) -> dict[str, Any]:
    inv = org.invoice(p["invoice"])
    acc_n = next(n for n, row in enumerate(ACCOUNTS, start=1) if row[0] == p["account"])
    invoice: dict[str, Any] = {"Type": "ACCREC", "InvoiceID": org.guids.make("invoice", p["invoice"])}
    if inv is not None:
        invoice.update(
            {
                "InvoiceNumber": inv["number"],
                "Payments": [],
                "CreditNotes": [],
                "Prepayments": [],
                "Overpayments": [],
                "HasErrors": False,
                "IsDiscounted": False,
                "Contact": invoice_contact(org, inv["contact"]),
                "LineItems": [],
                "CurrencyCode": inv["currency"],
            }
        )
    return {
        "PaymentID": org.guids.make("payment", p["idx"]),
        "Date": ms_date(p["date_ts"]),
        "BankAmount": money(p["amount_c"]),
        "Amount": money(p["amount_c"]),
        "Reference": p["reference"],
        "CurrencyRate": 1.0,
        "PaymentType": "ACCRECPAYMENT",
        "Status": p["status"],
        "UpdatedDateUTC": ms_date(p["updated_ts"]),
        "HasAccount": True,
        "IsReconciled": False,
        "Account": {"AccountID": org.guids.make("account", acc_n), "Code": p["account"]},
        "Invoice": invoice,
        "HasValidationErrors": False,
    }


def render_org(org: Org) -> dict[str, Any]:
    return {
        "OrganisationID": org.tenant_id,
        "APIKey": "",
        "Name": org.name,
        "LegalName": f"{org.name} LLC",
        "PaysTax": True,
        "Version": "US",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "USD",
        "CountryCode": "US",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 12,
        "SalesTaxBasis": "ACCRUAL",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": ms_date(org.bms.anchor - 5 * 365 * DAY),
        "OrganisationEntityType": "COMPANY",
        "Timezone": "EASTERNSTANDARDTIME",
        "ShortCode": "!" + org.tenant_id[:5],
        "Edition": "BUSINESS",
        "Class": "STANDARD",
        "LineOfBusiness": "IT managed services",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


# ---------------------------------------------------------------------- parameters
def _multi(req: Request, name: str) -> list[str]:
    """A comma-separated list parameter (repeated parameters accepted too)."""
    out: list[str] = []
    for v in req.query.get(name.lower(), []):
        out += [x.strip().strip('"') for x in v.split(",") if x.strip()]
    return out


def _bool(req: Request, name: str) -> bool:
    return (req.param(name) or "").strip().lower() == "true"


def _int(value: str | None, name: str) -> int | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError as e:
        raise ApiError(xero_error(400, 10, "ValidationException", f"'{value}' is not a valid value for {name}")) from e


def _paging(req: Request) -> tuple[int, int] | None:
    page = _int(req.param("page"), "page")
    if page is None:
        return None
    size = _int(req.param("pageSize"), "pageSize") or DEFAULT_PAGE_SIZE
    return max(1, page), min(max(1, size), MAX_PAGE_SIZE)


def _since(req: Request) -> int | None:
    v = req.headers.get("if-modified-since")
    if not v:
        return None
    try:
        return parse_since(v)
    except ValueError as e:
        raise ApiError(xero_error(400, 10, "ValidationException", str(e))) from e


def _where(req: Request, fields: set[str], type_name: str) -> Any:
    text = req.param("where")
    if not text:
        return None
    try:
        return parse_where(text, fields, type_name)
    except WhereError as e:
        raise ApiError(xero_error(400, 16, "QueryParseException", str(e))) from e


def _paths(node: Any) -> set[str]:
    if node is None:
        return set()
    if node[0] in ("and", "or"):
        return set().union(*(_paths(n) for n in node[1]))
    if node[0] == "not":
        return _paths(node[1])
    return {".".join(node[1]).lower()}


def _page(ids: list[int], paging: tuple[int, int] | None) -> tuple[list[int], dict[str, Any]]:
    if paging is None:
        return ids, {}
    page, size = paging
    meta = {
        "pagination": {
            "page": page,
            "pageSize": size,
            "pageCount": (len(ids) + size - 1) // size,
            "itemCount": len(ids),
        }
    }
    return ids[(page - 1) * size : page * size], meta


def _frozen(values: set[Any] | None) -> frozenset[Any] | None:
    return None if values is None else frozenset(values)


def _guid_indexes(org: Org, kind: str, values: Iterable[str]) -> set[int]:
    out = set()
    for v in values:
        i = org.guids.index(kind, v)
        if i is not None:
            out.add(i)
    return out


def _org(ctx: Ctx) -> Org:
    assert ctx.org is not None
    return ctx.org


def _ok(ctx: Ctx, key: str, items: list[dict[str, Any]], extra: dict[str, Any] | None = None) -> Response:
    return json_response(200, envelope(key, items, ctx.app.now(), extra))


# ---------------------------------------------------------------------- contacts
def get_contacts(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    where = _where(req, CONTACT_FIELDS, "Contact")
    since = _since(req)
    ids_filter = _guid_indexes(org, "contact", _multi(req, "IDs")) if req.param("IDs") else None
    term = (req.param("searchTerm") or "").strip().lower()
    archived = _bool(req, "includeArchived")
    summary = _bool(req, "summaryOnly")
    paging = _paging(req)
    matched: list[int] = []
    with org.lock:
        candidates = sorted(ids_filter) if ids_filter is not None else org.contact_ids()
        for c in candidates:
            rec = org.contact(c)
            if rec is None or (rec["status"] == "ARCHIVED" and not archived and ids_filter is None):
                continue
            if since is not None and rec["updated_ts"] < since:
                continue
            if term and not any(
                term in (x or "").lower()
                for x in (rec["name"], rec["first"], rec["last"], rec.get("account_number"), rec["email"])
            ):
                continue
            if where is not None and not evaluate(where, render_contact(org, rec)):
                continue
            matched.append(c)
        page, meta = _page(matched, paging)
        items = [render_contact(org, org.contact(c), summary) for c in page]  # type: ignore[arg-type]
    return _ok(ctx, "Contacts", items, meta)


def _contact_index(org: Org, key: str) -> int | None:
    c = org.guids.index("contact", key)
    if c is not None:
        return c
    for c in org.contact_ids():  # ContactNumber (none generated) or AccountNumber is not a key in Xero
        rec = org.contact(c)
        if rec is not None and rec.get("contact_number") == key:
            return c
    return None


def get_contact(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    with org.lock:
        c = _contact_index(org, ctx.params["ContactID"])
        rec = org.contact(c) if c is not None else None
        if rec is None:
            raise not_found()
        return _ok(ctx, "Contacts", [render_contact(org, rec)])


# ---------------------------------------------------------------------- invoices
INVOICE_CHEAP = {"status", "type", "invoicenumber", "invoiceid", "contact.contactid", "date", "updateddateutc"}


def _invoice_cheap(org: Org, i: int, paths: set[str]) -> dict[str, Any]:
    """The generated facts of invoice i a filter needs (only the `paths` asked for)."""
    out: dict[str, Any] = {}
    for p in paths:
        if p == "status":
            out["Status"] = org.base_status(i)
        elif p == "type":
            out["Type"] = "ACCREC"
        elif p == "invoicenumber":
            out["InvoiceNumber"] = f"INV-{10000 + i}"
        elif p == "invoiceid":
            out["InvoiceID"] = org.guids.make("invoice", i)
        elif p == "contact.contactid":
            out["Contact"] = {"ContactID": org.guids.make("contact", org.bms.account_of(i))}
        elif p == "date":
            created = org.created(i)
            out["Date"] = ms_date(created - created % DAY)
        elif p == "updateddateutc":
            out["UpdatedDateUTC"] = ms_date(org.base_updated(i))
    return out


def _invoice_matches(org: Org, i: int, flt: dict[str, Any]) -> bool:
    """All filters on invoice i (generated facts when they suffice, else the rendered record)."""
    rec = org.invoice_overlay.get(i)
    if rec is None:
        if not org.in_xero(i):
            return False
        status = org.base_status(i)
        if flt["statuses"] is not None and status not in flt["statuses"]:
            return False
        if flt["contacts"] is not None and org.bms.account_of(i) not in flt["contacts"]:
            return False
        if flt["since"] is not None and org.base_updated(i) < flt["since"]:
            return False
        if flt["where"] is not None and flt["cheap_where"]:
            return evaluate(flt["where"], _invoice_cheap(org, i, flt["paths"]))
        if flt["where"] is None and not flt["term"]:
            return True
        rec = org.invoice(i)
        assert rec is not None
    else:
        if flt["statuses"] is not None and rec["status"] not in flt["statuses"]:
            return False
        if flt["contacts"] is not None and rec["contact"] not in flt["contacts"]:
            return False
        if flt["since"] is not None and rec["updated_ts"] < flt["since"]:
            return False
    if flt["term"] and not (flt["term"] in rec["number"].lower() or flt["term"] in rec["reference"].lower()):
        return False
    return flt["where"] is None or evaluate(flt["where"], render_invoice(org, rec, lines=False))


def _invoice_candidates(org: Org, since: int | None) -> Sequence[int]:
    """Every invoice that may have changed at or after `since` (all of them without it), ascending.

    A generated invoice's UpdatedDateUTC trails its creation by at most UPDATE_LAG, so those start
    at a binary-searched index; an edited one (payment, mutation) may be older than that window and
    still changed since: the overlay holds every edited invoice, and only those are looked at.
    """
    ids = org.invoice_ids()
    start = 0
    older: list[int] = []
    if since is not None:
        start = bisect_left(ids, org.first_created_at_or_after(since - UPDATE_LAG))
        window_start = ids[start] if start < len(ids) else org.n_invoices + 1
        older = sorted(i for i, rec in org.invoice_overlay.items() if i < window_start and rec["updated_ts"] >= since)
    created = sorted(i for i in org.invoice_overlay if i > org.n_invoices)
    return [*older, *ids[start:], *created] if older or created else ids[start:]


def get_invoices(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    where = _where(req, INVOICE_FIELDS, "Invoice")
    statuses = {s.upper() for s in _multi(req, "Statuses")} or None
    contacts = _guid_indexes(org, "contact", _multi(req, "ContactIDs")) if req.param("ContactIDs") else None
    flt = {
        "where": where,
        "cheap_where": where is not None and _paths(where) <= INVOICE_CHEAP,
        "paths": _paths(where),
        "statuses": statuses,
        "contacts": contacts,
        "since": _since(req),
        "term": (req.param("searchTerm") or "").strip().lower(),
    }
    paging = _paging(req)
    summary = _bool(req, "summaryOnly")
    if _bool(req, "createdByMyApp"):
        return _ok(ctx, "Invoices", [], _page([], paging)[1])
    # candidates: explicit ids/numbers, equalities in `where`, or the If-Modified-Since window
    explicit: set[int] | None = None
    if req.param("IDs"):
        explicit = _guid_indexes(org, "invoice", _multi(req, "IDs"))
    with org.lock:
        if req.param("InvoiceNumbers"):
            nums = {n for v in _multi(req, "InvoiceNumbers") if (n := org.invoice_index_by_number(v)) is not None}
            explicit = nums if explicit is None else explicit & nums
        eq = equalities(where)
        if "invoiceid" in eq:
            val = eq["invoiceid"]
            one = _guid_indexes(org, "invoice", [getattr(val, "value", str(val))])
            explicit = one if explicit is None else explicit & one
        if "invoicenumber" in eq and isinstance(eq["invoicenumber"], str):
            n = org.invoice_index_by_number(eq["invoicenumber"])
            one = {n} if n is not None else set()
            explicit = one if explicit is None else explicit & one

        def match() -> list[int]:
            candidates = sorted(explicit) if explicit is not None else _invoice_candidates(org, flt["since"])
            if not any(flt[k] for k in ("where", "statuses", "contacts", "since", "term")):
                return list(candidates)
            return [i for i in candidates if _invoice_matches(org, i, flt)]

        query = ("invoices", _frozen(explicit), _frozen(statuses), _frozen(contacts), req.param("where") or "")
        matched = org.listing((*query, flt["since"], flt["term"]), match)
        page, meta = _page(matched, paging)
        items = [
            render_invoice(org, org.invoice(i), lines=paging is not None, summary=summary)  # type: ignore[arg-type]
            for i in page
        ]
    return _ok(ctx, "Invoices", items, meta)


def _invoice_index(org: Org, key: str) -> int | None:
    i = org.guids.index("invoice", key)
    if i is None:
        i = org.invoice_index_by_number(key)
    return i if i is not None and org.invoice(i) is not None else None


def get_invoice(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    with org.lock:
        i = _invoice_index(org, ctx.params["InvoiceID"])
        if i is None:
            raise not_found()
        rec = org.invoice(i)
        assert rec is not None
        if "application/pdf" in req.headers.get("accept", "").lower() or req.path.lower().endswith("/pdf"):
            return Response(200, invoice_pdf(org, rec), "application/pdf")
        return _ok(ctx, "Invoices", [render_invoice(org, rec)])


def invoice_pdf(org: Org, rec: dict[str, Any]) -> bytes:
    contact = org.contact(rec["contact"]) or {}
    lines = [
        org.name,
        "",
        f"TAX INVOICE {rec['number']}",
        f"Invoice date: {iso_date(rec['date_ts'])[:10]}",
        f"Due date: {iso_date(rec['due_ts'])[:10]}",
        f"Status: {rec['status']}",
        f"Reference: {rec['reference']}",
        "",
        f"To: {contact.get('name', '')}",
        "",
    ]
    for li in rec["lines"]:
        lines.append(f"{li['description']}: {li['qty']:g} x {li['unit']:.2f} = {money(li['amount_c']):.2f}")
    due = 0 if rec["status"] == "VOIDED" else rec["total_c"] - rec["paid_c"]
    lines += [
        "",
        f"Subtotal: {money(rec['subtotal_c']):.2f}",
        f"Total tax: {money(rec['tax_c']):.2f}",
        f"Total {rec['currency']}: {money(rec['total_c']):.2f}",
        f"Amount paid: {money(rec['paid_c']):.2f}",
        f"Amount due {rec['currency']}: {money(due):.2f}",
    ]
    return text_pdf(lines, title=f"Invoice {rec['number']}")


# ---------------------------------------------------------------------- payments
PAYMENT_CHEAP = {"status", "reference", "invoice.invoiceid", "paymentid", "paymenttype", "updateddateutc", "date"}


def _payment_cheap(org: Org, p: int, paths: set[str]) -> dict[str, Any]:
    """The generated facts of payment p a filter needs (only the `paths` asked for)."""
    out: dict[str, Any] = {}
    for path in paths:
        if path == "paymentid":
            out["PaymentID"] = org.guids.make("payment", p)
        elif path == "status":
            out["Status"] = "AUTHORISED"
        elif path == "reference":
            out["Reference"] = f"Check {1000 + org.h('invoices', p, 43) % 9000}"
        elif path == "paymenttype":
            out["PaymentType"] = "ACCRECPAYMENT"
        elif path == "invoice.invoiceid":
            out["Invoice"] = {"InvoiceID": org.guids.make("invoice", p)}
        elif path in ("updateddateutc", "date"):
            ts = org.payment_ts(p)
            out["UpdatedDateUTC"], out["Date"] = ms_date(ts), ms_date(ts - ts % DAY)
    return out


def get_payments(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    where = _where(req, PAYMENT_FIELDS, "Payment")
    paths = _paths(where)
    cheap = where is not None and paths <= PAYMENT_CHEAP
    since = _since(req)
    paging = _paging(req)
    with org.lock:
        eq = equalities(where)
        candidates: Iterable[int]
        narrowed = "paymentid" in eq or "invoice.invoiceid" in eq
        if "paymentid" in eq:
            val = eq["paymentid"]
            candidates = sorted(_guid_indexes(org, "payment", [getattr(val, "value", str(val))]))
        elif "invoice.invoiceid" in eq:
            val = eq["invoice.invoiceid"]
            inv = _guid_indexes(org, "invoice", [getattr(val, "value", str(val))])
            candidates = [p for i in sorted(inv) for p in org.invoice_payment_ids(i)]
        else:
            candidates = org.payment_ids()
        matched = []
        for p in candidates:
            rec = org.payment_overlay.get(p)
            if rec is None:
                if p > org.n_invoices or (narrowed and org.payment(p) is None):
                    continue  # created payments all live in the overlay
                if since is not None and org.payment_ts(p) < since:
                    continue
                if where is not None and cheap and not evaluate(where, _payment_cheap(org, p, paths)):
                    continue
                if where is not None and not cheap:
                    base = org.payment(p)
                    if base is None or not evaluate(where, render_payment(org, base)):
                        continue
            else:
                if since is not None and rec["updated_ts"] < since:
                    continue
                if where is not None and not evaluate(where, render_payment(org, rec)):
                    continue
            matched.append(p)
        page, meta = _page(matched, paging)
        items = [render_payment(org, org.payment(p)) for p in page]  # type: ignore[arg-type]
    return _ok(ctx, "Payments", items, meta)


def get_payment(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    with org.lock:
        p = org.guids.index("payment", ctx.params["PaymentID"])
        rec = org.payment(p) if p is not None else None
        if rec is None:
            raise not_found()
        return _ok(ctx, "Payments", [render_payment(org, rec)])


def _parse_date(value: Any) -> int | None:
    if not isinstance(value, str) or not value.strip():
        return None
    v = value.strip()
    try:
        ts = parse_ms_date(v) if v.startswith("/Date(") else calendar.timegm(time.strptime(v[:10], "%Y-%m-%d"))
    except ValueError:
        return None
    return ts - ts % DAY


def _account_row(org: Org, spec: Any) -> int | None:
    if not isinstance(spec, dict):
        return None
    low = {str(k).lower(): v for k, v in spec.items()}
    if low.get("accountid"):
        n = org.guids.index("account", str(low["accountid"]))
        return n if n is not None and 1 <= n <= len(ACCOUNTS) else None
    code = str(low.get("code") or "")
    return next((n for n, row in enumerate(ACCOUNTS, start=1) if row[0] == code), None)


def _validate_payment(org: Org, item: Any, due_left: dict[int, int]) -> tuple[dict[str, Any], list[str], Any]:
    """(echo of the element, validation messages, parsed values) for one payment to create."""
    if not isinstance(item, dict):
        return {}, ["A payment must be an object"], None
    low = {str(k).lower(): v for k, v in item.items()}
    errors: list[str] = []
    echo: dict[str, Any] = {}
    inv_spec = low.get("invoice")
    inv_i = None
    if isinstance(inv_spec, dict):
        ilow = {str(k).lower(): v for k, v in inv_spec.items()}
        if ilow.get("invoiceid"):
            echo["Invoice"] = {"InvoiceID": str(ilow["invoiceid"])}
            inv_i = org.guids.index("invoice", str(ilow["invoiceid"]))
        elif ilow.get("invoicenumber"):
            echo["Invoice"] = {"InvoiceNumber": str(ilow["invoicenumber"])}
            inv_i = org.invoice_index_by_number(str(ilow["invoicenumber"]))
    inv = org.invoice(inv_i) if inv_i is not None else None
    if inv is None:
        errors.append("Invoice could not be found")
    acc = _account_row(org, low.get("account"))
    if isinstance(low.get("account"), dict):
        echo["Account"] = {k: str(v) for k, v in low["account"].items() if k in ("AccountID", "Code")}
    if acc is None:
        errors.append("Account could not be found")
    else:
        code, _, type_, _, enabled, status, _ = ACCOUNTS[acc - 1]
        if status != "ACTIVE":
            errors.append(f"The account {code} is archived")
        elif type_ != "BANK" and not enabled:
            errors.append("Payments can only be made to a bank account or an account with payments enabled")
    date = _parse_date(low.get("date"))
    if low.get("date") is not None:
        echo["Date"] = ms_date(date) if date is not None else str(low["date"])
    if date is None:
        errors.append("A valid payment date must be specified")
    amount_c = None
    try:
        if low.get("amount") is not None and not isinstance(low["amount"], bool):
            amount_c = cents(float(low["amount"]))
            echo["Amount"] = money(amount_c)
    except (TypeError, ValueError):
        pass
    if amount_c is None or amount_c <= 0:
        errors.append("Payment amount must be greater than zero")
    ref = low.get("reference")
    if ref is not None:
        echo["Reference"] = str(ref)
    if inv is not None and inv_i is not None:
        if inv["status"] != "AUTHORISED":
            errors.append("Payments can only be made against Authorised documents")
        elif amount_c is not None and amount_c > due_left.setdefault(inv_i, inv["total_c"] - inv["paid_c"]):
            errors.append("Payment amount exceeds the amount outstanding on this document")
    if not errors:
        assert inv_i is not None and amount_c is not None and acc is not None
        due_left[inv_i] -= amount_c
        return echo, [], (inv_i, ACCOUNTS[acc - 1][0], date, amount_c, str(ref or ""))
    return echo, errors, None


def apply_payment(
    org: Org, inv_i: int, account: str, date: int, amount_c: int, reference: str, now: int
) -> dict[str, Any]:
    """Record a payment (caller validated it and holds the org lock)."""
    p = org.new_payment_index()
    rec = {
        "idx": p,
        "invoice": inv_i,
        "date_ts": date,
        "amount_c": amount_c,
        "reference": reference,
        "account": account,
        "status": "AUTHORISED",
        "updated_ts": now,
        "created_by_api": True,
        "created_ts": now,
    }
    org.payment_overlay[p] = rec
    org.created_payments.append(p)
    org.invoice_payments.setdefault(inv_i, []).append(p)
    inv = org.materialise_invoice(inv_i)
    inv["paid_c"] += amount_c
    inv["updated_ts"] = now
    if inv["total_c"] - inv["paid_c"] <= 0:
        inv["status"] = "PAID"
        inv["fully_paid_ts"] = date
    org.bump()
    return rec


def delete_payment(org: Org, p: int, now: int) -> dict[str, Any]:
    """Reverse a payment (caller holds the org lock); raises ValueError when already deleted."""
    rec = org.payment(p)
    if rec is None:
        raise KeyError(p)
    if rec["status"] == "DELETED":
        raise ValueError("This payment has already been deleted")
    if p not in org.payment_overlay:
        rec = dict(rec)
        org.payment_overlay[p] = rec
    rec["status"] = "DELETED"
    rec["updated_ts"] = now
    inv = org.materialise_invoice(rec["invoice"])
    inv["paid_c"] -= rec["amount_c"]
    inv["updated_ts"] = now
    if inv["status"] == "PAID":
        inv["status"] = "AUTHORISED"
        inv["fully_paid_ts"] = None
    org.bump()
    return rec


def create_payments(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    body = req.json()
    if isinstance(body, dict) and isinstance(body.get("Payments"), list):
        items = body["Payments"]
    elif isinstance(body, dict) and body:
        items = [body]
    else:
        raise ApiError(xero_error(400, 14, "PostDataInvalidException", "The request body must contain Payments"))
    summarize = (req.param("summarizeErrors") or "true").strip().lower() != "false"
    with org.lock:
        due_left: dict[int, int] = {}
        checked = [_validate_payment(org, item, due_left) for item in items]
        now = ctx.app.now()
        if summarize:
            failed = [{**echo, "ValidationErrors": [{"Message": m} for m in errs]} for echo, errs, _ in checked if errs]
            if failed:
                raise validation_error(failed)
        out = []
        for echo, errs, values in checked:
            if errs:
                out.append({**echo, "HasValidationErrors": True, "ValidationErrors": [{"Message": m} for m in errs]})
            else:
                out.append(render_payment(org, apply_payment(org, *values, now)))
    return _ok(ctx, "Payments", out)


def update_payment(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    body = req.json()
    if isinstance(body, dict) and isinstance(body.get("Payments"), list) and body["Payments"]:
        body = body["Payments"][0]
    status = str((body or {}).get("Status", "")).upper() if isinstance(body, dict) else ""
    with org.lock:
        p = org.guids.index("payment", ctx.params["PaymentID"])
        rec = org.payment(p) if p is not None else None
        if rec is None or p is None:
            raise not_found()
        if status != "DELETED":
            raise validation_error(
                [
                    {
                        "PaymentID": ctx.params["PaymentID"],
                        "ValidationErrors": [{"Message": "Only Status DELETED can be set on a payment"}],
                    }
                ]
            )
        try:
            rec = delete_payment(org, p, ctx.app.now())
        except ValueError as e:
            raise validation_error([{"ValidationErrors": [{"Message": str(e)}]}]) from e
        return _ok(ctx, "Payments", [render_payment(org, rec)])


# ---------------------------------------------------------------------- accounts, organisation
def get_accounts(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    where = _where(req, ACCOUNT_FIELDS, "Account")
    since = _since(req)
    items = [render_account(org, n) for n in range(1, len(ACCOUNTS) + 1)]
    if since is not None:
        items = [a for a in items if parse_ms_date(a["UpdatedDateUTC"]) >= since]
    items = [a for a in items if where is None or evaluate(where, a)]
    return _ok(ctx, "Accounts", items)


def get_account(ctx: Ctx, req: Request) -> Response:
    org = _org(ctx)
    n = org.guids.index("account", ctx.params["AccountID"])
    if n is None or not 1 <= n <= len(ACCOUNTS):
        raise not_found()
    return _ok(ctx, "Accounts", [render_account(org, n)])


def get_organisation(ctx: Ctx, req: Request) -> Response:
    return _ok(ctx, "Organisations", [render_org(_org(ctx))])


TX_READ = ("accounting.transactions", "accounting.transactions.read", "accounting.invoices", "accounting.invoices.read")
PAY_READ = (
    "accounting.transactions",
    "accounting.transactions.read",
    "accounting.payments",
    "accounting.payments.read",
)
PAY_WRITE = ("accounting.transactions", "accounting.payments")
CONTACTS_READ = ("accounting.contacts", "accounting.contacts.read")
SETTINGS_READ = ("accounting.settings", "accounting.settings.read")


def register(app: Sandbox) -> None:
    def r(method: str, template: str, handler: Any, scopes: tuple[str, ...]) -> None:
        full = API_BASE + template
        app.routes.append(Route(method, full, compile_template(full), handler, "tenant", scopes))

    r("GET", "/Contacts", get_contacts, CONTACTS_READ)
    r("GET", "/Contacts/{ContactID}", get_contact, CONTACTS_READ)
    r("GET", "/Invoices", get_invoices, TX_READ)
    r("GET", "/Invoices/{InvoiceID}", get_invoice, TX_READ)
    r("GET", "/Invoices/{InvoiceID}/pdf", get_invoice, TX_READ)
    r("GET", "/Payments", get_payments, PAY_READ)
    r("PUT", "/Payments", create_payments, PAY_WRITE)
    r("POST", "/Payments", create_payments, PAY_WRITE)
    r("GET", "/Payments/{PaymentID}", get_payment, PAY_READ)
    r("POST", "/Payments/{PaymentID}", update_payment, PAY_WRITE)
    r("GET", "/Accounts", get_accounts, SETTINGS_READ)
    r("GET", "/Accounts/{AccountID}", get_account, SETTINGS_READ)
    r("GET", "/Organisation", get_organisation, SETTINGS_READ)
