"""Pure translations from BMS client types to the portal's row dicts.

Invariants: a row holds only values its columns can store. An amount that is not a number
(NaN, Infinity) or is too large for its column (``1e400``) rejects its record
(`RecordRejected`, with the field and the value): the sync counts it as failed and goes on.
Dates out of the range every time zone can show arrive here empty (`types.parse_datetime`).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from functools import cache

from babel import Locale

from core.formats import LocaleFacts
from integrations.sync.plan import RecordRejected
from providers.kaseya_bms import types as bms

CENT = Decimal("0.01")
UNIT = Decimal("0.0001")
# Amounts are stored in numeric(14, 2) columns, quantities and unit prices in numeric(14, 4):
# below these bounds a value still fits once rounded (999999999999.995 would round up to 10^12).
MONEY_BOUND = Decimal("999999999999.995")
UNIT_BOUND = Decimal("9999999999.99995")
_NO_MONEY = Decimal("0").quantize(CENT)
_NO_UNITS = Decimal("0").quantize(UNIT)


class _NotStorable(ValueError):
    """An amount its column cannot hold; the row function turns it into `RecordRejected`."""

    def __init__(self, name: str, value: Decimal):
        problem = "not a number" if not value.is_finite() else "too large to store"
        super().__init__(f"{name} is {value}: {problem}")


def _text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def _money(value: Decimal | None, name: str) -> Decimal:
    if not value:  # None, 0 and -0 alike
        return _NO_MONEY
    # is_finite first: NaN cannot be compared (and sNaN not even tested for equality).
    if value.is_finite() and -MONEY_BOUND < value < MONEY_BOUND:
        return value.quantize(CENT, ROUND_HALF_UP)
    raise _NotStorable(name, value)


def _units(value: Decimal | None, name: str) -> Decimal:
    if not value:
        return _NO_UNITS
    if value.is_finite() and -UNIT_BOUND < value < UNIT_BOUND:
        return value.quantize(UNIT)  # the context's rounding (half-even), as always
    raise _NotStorable(name, value)


_CURRENCY_CODE = re.compile(r"[A-Za-z]{3}")
_CULTURE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
DATE_FORMAT_MAX = 40  # the column's width; BMS's patterns are a dozen characters


@cache
def _currency_codes_by_name() -> dict[str, str]:
    """English currency names ("US Dollar", "Euro") -> ISO codes, from CLDR."""
    return {name.casefold(): code for code, name in Locale.parse("en").currencies.items()}


def currency_code(text: str | None) -> str:
    """An ISO 4217 code from what BMS shows ("USD", or a currency's English name); "" if neither."""
    text = (text or "").strip()
    if _CURRENCY_CODE.fullmatch(text):
        return text.upper()
    return _currency_codes_by_name().get(text.casefold(), "")


def tenant_locale(user_info: bms.UserInfo) -> LocaleFacts | None:
    """How the tenant shows money and dates (userinfo's CurrencyCode, CultureCode, DateFormat);
    None when BMS says nothing usable. A value that is not what its field holds is left out."""
    culture = (user_info.culture_code or "").strip()
    date_format = (user_info.date_format or "").strip()
    locale = LocaleFacts(
        currency=currency_code(user_info.currency_code),
        culture=culture.replace("_", "-") if _CULTURE_CODE.fullmatch(culture) else "",
        date_format=date_format if len(date_format) <= DATE_FORMAT_MAX else "",
    )
    return locale if (locale.currency or locale.culture or locale.date_format) else None


def organization_row(account: bms.Account) -> dict:
    billing = account.billing_address
    main_location = next((loc for loc in account.locations if loc.is_main), None) or (
        account.locations[0] if account.locations else None
    )
    return {
        "bms_id": account.id,
        "name": _text(account.name, 255) or f"Account {account.id}",
        "code": _text(account.code, 100),
        "account_type": _text(account.type, 100),
        "is_active": account.is_active,
        "website": _text(account.website, 255),
        "main_location_bms_id": main_location.id if main_location else None,
        "billing_address1": _text(billing.address1 if billing else None, 255),
        "billing_address2": _text(billing.address2 if billing else None, 255),
        "billing_city": _text(billing.city if billing else None, 100),
        "billing_state": _text(billing.state if billing else None, 100),
        "billing_zip": _text(billing.zip_code if billing else None, 20),
        "billing_country": _text(billing.country if billing else None, 100),
        "billing_phone": _text(billing.phone if billing else None, 50),
        "billing_email": _text(billing.email if billing else None, 254),
        "locations": [
            {"id": loc.id, "name": loc.name or "", "is_main": loc.is_main, "is_active": loc.is_active}
            for loc in account.locations
        ],
        "currency": currency_code(account.currency_name),  # "": the tenant's (set when linked)
        "bms_created_on": account.created_on,
        "bms_modified_on": account.modified_on,
    }


def contact_row(contact: bms.Contact) -> dict:
    return {
        "bms_id": contact.id,
        "bms_account_id": contact.account_id,
        "bms_location_id": contact.location_id,
        "first_name": _text(contact.first_name, 100),
        "last_name": _text(contact.last_name, 100),
        "job_title": _text(contact.job_title, 150),
        "email": _text(contact.email, 254).lower(),
        "phone": _text(contact.phone, 50),
        "is_poc": contact.is_poc,
        "receives_invoices": contact.receives_invoices,
        "is_active": contact.is_active,
        "bms_created_on": contact.created_on,
        "bms_modified_on": contact.modified_on,
    }


def contract_row(contract: bms.Contract) -> dict:
    try:
        price = _money(contract.billing_price, "ContractBillingPrice") if contract.billing_price is not None else None
    except _NotStorable as exc:
        raise RecordRejected(contract.id, str(exc)) from None
    return {
        "bms_id": contract.id,
        "account_name": _text(contract.account_name, 255),
        "name": _text(contract.name, 255) or f"Contract {contract.id}",
        "number": _text(contract.number, 100),
        "contract_type": _text(contract.contract_type, 100),
        "status": _text(contract.status, 100),
        "billing_cycle": _text(contract.billing_cycle, 100),
        "billing_price": price,
        "start_date": contract.start_date,
        "end_date": contract.end_date,
    }


def ticket_row(ticket: bms.Ticket) -> dict:
    return {
        "bms_id": ticket.id,
        "bms_account_id": ticket.account_id,
        "number": _text(ticket.ticket_number, 50),
        "title": _text(ticket.title, 500),
        "status": _text(ticket.status_name, 100),
        "priority": _text(ticket.priority_name, 100),
        "status_bms_id": ticket.status_id,
        "priority_bms_id": ticket.priority_id,
        "queue_bms_id": ticket.queue_id,
        "type_bms_id": ticket.type_id,
        "issue_type_bms_id": ticket.issue_type_id,
        "source_bms_id": ticket.source_id,
        "open_date": ticket.open_date,
        "completed_date": ticket.completed_date,
        "last_activity_update": ticket.last_activity_update,
    }


def invoice_row(invoice: bms.Invoice) -> dict:
    try:
        total = _money(invoice.grand_total, "GrandTotal")
        paid = _money(invoice.paid_amount, "PaidAmount")
        tax = _money(invoice.total_tax, "TotalTax")
        due = invoice.payment_due
        balance = _money(due, "PaymentDue") if due is not None else max(total - paid, Decimal("0"))
    except _NotStorable as exc:
        raise RecordRejected(invoice.id, str(exc)) from None
    return {
        "bms_id": invoice.id,
        "bms_account_id": invoice.account_id,
        "number": _text(invoice.invoice_number, 100) or str(invoice.id),
        "status_bms_id": invoice.status_id,
        "status": _text(invoice.status_name, 100),
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "total": total,
        "tax": tax,
        "paid_amount": paid,
        "balance_due": balance,
        "po_number": _text(invoice.po_number, 100),
        "notes": invoice.notes or "",
        "bill_to": {
            "name": " ".join(p for p in (invoice.contact_first_name, invoice.contact_last_name) if p),
            "email": invoice.email or "",
        },
        "bms_created_on": invoice.created_on,
        "bms_modified_on": invoice.modified_on,
    }


def invoice_line_row(line: bms.InvoiceLineItem) -> dict:
    try:
        quantity = _units(line.qty, "Qty")
        unit_price = _units(line.unit_price, "UnitPrice")
        total = _money(line.total_price, "TotalPrice")
    except _NotStorable as exc:
        raise RecordRejected(line.id, str(exc), parent_id=line.invoice_id) from None
    return {
        "bms_id": line.id,
        "bms_invoice_id": line.invoice_id,
        "name": _text(line.name, 255),
        "description": line.description or "",
        "line_type": _text(line.type_name, 100),
        "quantity": quantity,
        "unit_price": unit_price,
        "total": total,
        "is_taxable": line.is_taxable,
    }
