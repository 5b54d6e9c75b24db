"""The pieces the vendor clients share: the record reader and Retry-After."""

from decimal import Decimal

import requests

from integrations.vendor_http import Endpoint, RecordFields, retry_after_seconds


def test_fields_are_read_whatever_the_case_and_tolerate_wrong_types():
    fields = RecordFields({"InvoiceID": "abc", "amountDue": "12.50", "count": "7", "Lines": [{"Id": 1}, "x"]})
    assert fields.text("invoiceId") == "abc"
    assert fields.decimal("AmountDue") == Decimal("12.50")
    assert fields.integer("Count") == 7
    assert [line.integer("id") for line in fields.objects("lines")] == [1]  # a non-object item is skipped
    assert fields.text("Lines") is None  # a list is not text
    assert fields.child("Missing").raw == {}


def test_numbers_that_cannot_be_stored_read_as_absent():
    fields = RecordFields({"Huge": 2**64, "Flag": True, "Inf": "Infinity"})
    assert (fields.integer("Huge"), fields.integer("Flag"), fields.integer("Inf")) == (None, None, None)


def test_retry_after_as_seconds_or_a_date():
    response = requests.Response()
    response.headers["Retry-After"] = "7"
    assert retry_after_seconds(response, clock=lambda: 0.0) == 7.0
    response.headers["Retry-After"] = "Wed, 02 Dec 2026 16:00:30 GMT"
    assert retry_after_seconds(response, clock=lambda: 1796227200.0) == 30.0
    response.headers["Retry-After"] = "soon"
    assert retry_after_seconds(response, clock=lambda: 0.0) == 0.0


def test_endpoint_paths_quote_their_values():
    endpoint = Endpoint("GET", "/Invoices/{InvoiceID}")
    assert endpoint.key == "GET /Invoices/{InvoiceID}"
    assert endpoint.path("a/b c") == "/Invoices/a%2Fb%20c"
