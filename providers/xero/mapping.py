"""Xero records as rows of the portal's synced models (``XeroContact``, ``XeroInvoice``).

A row holds the Xero id, lower case, under ``bms_id`` (the sync engine's external-id column) and
only what Xero says: nothing derived locally, so its hash changes only when Xero's record does."""

from __future__ import annotations

from .types import Contact, Invoice


def contact_row(contact: Contact) -> dict:
    return {
        "bms_id": contact.contact_id.lower(),
        "name": contact.name[:255],
        "account_number": (contact.account_number or "")[:100],
        "email": (contact.email or "")[:254],
        "contact_persons": [
            {
                "first_name": p.first_name or "",
                "last_name": p.last_name or "",
                "email": p.email or "",
                "include_in_emails": p.include_in_emails,
            }
            for p in contact.contact_persons
        ],
        "status": contact.status or "",
        "is_customer": contact.is_customer,
        "xero_updated_at": contact.updated_at,
    }


def invoice_row(invoice: Invoice) -> dict:
    return {
        "bms_id": invoice.invoice_id.lower(),
        "invoice_number": (invoice.invoice_number or "")[:100],
        "contact_id": (invoice.contact_id or "").lower(),
        "status": invoice.status or "",
        "currency": (invoice.currency_code or "")[:3],
        "total": invoice.total,
        "amount_due": invoice.amount_due,
        "amount_paid": invoice.amount_paid,
        "xero_updated_at": invoice.updated_at,
    }
