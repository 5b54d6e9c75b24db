"""Expected answers of the billing URLs (see tests/accounts/test_access_matrix.py).

An entry's first element is the URL's kwargs, or a function of the signed-in user (None:
anonymous) creating the object the URL names: an allowed role must get the page, never a 404."""

from tests.billing.factories import InvoiceFactory, InvoiceLineFactory
from tests.roles import STAFF


def invoice(user) -> dict:
    """An invoice with a line; a client contact's belongs to their organization."""
    organization = getattr(user, "organization", None)
    record = InvoiceFactory(organization=organization) if organization else InvoiceFactory()
    InvoiceLineFactory(invoice=record, source=record.source)
    return {"pk": record.pk}


BILLING_ACCESS = {
    # Staff: invoices and their images; Configurations > Billing > Invoice Image Data.
    "billing:invoices-export": ({}, "get", STAFF),
    "billing:invoice": (invoice, "get", STAFF),
    "billing:invoice-image": (invoice, "get", STAFF),
    "billing:invoice-pdf": (invoice, "get", STAFF),
    "billing:invoice-download": (invoice, "get", STAFF),
    "billing:invoice-image-refresh": (invoice, "post", STAFF),
    "billing:invoice-comment": (invoice, "post", STAFF, {"body": "The second line is the March licences."}),
    "billing-config:image-sources": ({}, "get", STAFF),
}
