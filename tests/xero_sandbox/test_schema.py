"""The validator itself: it accepts what the documents allow and refuses what they do not."""

from __future__ import annotations

import json

import pytest

from . import spec


def _invoices(**invoice: object) -> bytes:
    return json.dumps({"Id": "x", "Status": "OK", "Invoices": [{"InvoiceNumber": "INV-1", **invoice}]}).encode()


def test_accepts_a_documented_answer() -> None:
    assert spec.validate("GET", "/api.xro/2.0/Invoices", 200, "application/json", _invoices(Total=1.5))


@pytest.mark.parametrize(
    "invoice",
    [
        {"Total": "1.50"},  # wrong type
        {"Colour": "red"},  # a property the document does not define
        {"Status": "OPEN"},  # not in the enum
        {"InvoiceID": "not-a-guid"},  # uuid format
    ],
)
def test_refuses_what_the_document_does_not_allow(invoice: dict[str, object]) -> None:
    with pytest.raises(AssertionError):
        spec.validate("GET", "/api.xro/2.0/Invoices", 200, "application/json", _invoices(**invoice))


def test_error_and_problem_shapes() -> None:
    err = {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "m",
        "Elements": [{"ValidationErrors": [{"Message": "x"}]}],
    }
    assert spec.validate("PUT", "/api.xro/2.0/Payments", 400, "application/json", json.dumps(err).encode())
    with pytest.raises(AssertionError):
        spec.validate("PUT", "/api.xro/2.0/Payments", 400, "application/json", json.dumps({"Message": 1}).encode())
    with pytest.raises(AssertionError):  # undocumented statuses must be Xero's problem body
        spec.validate("GET", "/api.xro/2.0/Invoices", 401, "application/json", b'{"message": "no"}')
