"""Pure translations from BMS client types to the portal's row dicts."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from providers.kaseya_bms import types as bms

CENT = Decimal("0.01")


def _text(value: str | None, limit: int) -> str:
    return (value or "").strip()[:limit]


def _money(value: Decimal | None) -> Decimal:
    return (value or Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP)


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
    return {
        "bms_id": contract.id,
        "account_name": _text(contract.account_name, 255),
        "name": _text(contract.name, 255) or f"Contract {contract.id}",
        "number": _text(contract.number, 100),
        "contract_type": _text(contract.contract_type, 100),
        "status": _text(contract.status, 100),
        "billing_cycle": _text(contract.billing_cycle, 100),
        "billing_price": _money(contract.billing_price) if contract.billing_price is not None else None,
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
    total = _money(invoice.grand_total)
    paid = _money(invoice.paid_amount)
    balance = _money(invoice.payment_due) if invoice.payment_due is not None else max(total - paid, Decimal("0"))
    return {
        "bms_id": invoice.id,
        "bms_account_id": invoice.account_id,
        "number": _text(invoice.invoice_number, 100) or str(invoice.id),
        "status_bms_id": invoice.status_id,
        "status": _text(invoice.status_name, 100),
        "invoice_date": invoice.invoice_date,
        "due_date": invoice.due_date,
        "total": total,
        "tax": _money(invoice.total_tax),
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
    return {
        "bms_id": line.id,
        "bms_invoice_id": line.invoice_id,
        "name": _text(line.name, 255),
        "description": line.description or "",
        "line_type": _text(line.type_name, 100),
        "quantity": (line.qty or Decimal("0")).quantize(Decimal("0.0001")),
        "unit_price": (line.unit_price or Decimal("0")).quantize(Decimal("0.0001")),
        "total": _money(line.total_price),
        "is_taxable": line.is_taxable,
    }
