"""The contract: what the client sends fits Xero's OpenAPI documents, and so do the stub's answers.

Every test of this package already runs ``check_contract`` over its exchanges (the ``stub``
fixture's teardown); here the checker itself is shown to catch what it claims to, and one run
through every client method shows each operation is actually covered.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests

from providers.xero.types import PaymentDraft

from . import openapi
from .conftest import check_contract
from .payloads import (
    ACCOUNT_ID,
    CONTACT_ID,
    INVOICE_ID,
    PAYMENT_ID,
    TENANT_ID,
    account,
    connection,
    contact,
    invoice,
    organisation,
    pagination,
    payment,
    validation_error,
)
from .stub import API, Reply, xero_reply

HEADERS = {"xero-tenant-id": TENANT_ID, "Authorization": "Bearer t", "Accept": "application/json"}
JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}


def request_errors(method, path, query=None, headers=None, body=b""):
    return openapi.accounting().request_errors(method, API + path, query or {}, headers or HEADERS, body)


def payment_body(**fields) -> bytes:
    base = {"Invoice": {"InvoiceID": INVOICE_ID}, "Account": {"Code": "090"}, "Date": "2024-06-01", "Amount": 5.0}
    return json.dumps({"Payments": [{**base, **fields}]}).encode()


#: SHA-256 of the documents as Xero publishes them (the copies in /work/shared/xero): the checker
#: must read Xero's words, not an edited version.
ORIGINALS = {
    "LICENSE": "bba099837eebad6285316c845c2897dd7df620ee7da7003e3120381c125f1084",
    "xero-identity.yaml": "d95f4204d8ec369dac2bb1ee6e6b8cfb88f845a09cbcba630475dd34c73cf2bd",
    "xero-webhooks.yaml": "822244b387a8e26ca948abd338cbee419b6167408ad615582802346587ed7eac",
    "xero_accounting.yaml": "140f64f8e6bd2d8524b8ffdbffd08589d417efa5466ba57bfa04939a69ff6db8",
}


def test_the_copies_are_xeros_documents_unchanged():
    for name, digest in ORIGINALS.items():
        assert hashlib.sha256((openapi.SPEC_DIR / name).read_bytes()).hexdigest() == digest, name


# --- the checker catches bad requests --------------------------------------------------------------


def test_valid_requests_pass():
    assert request_errors("GET", "/Invoices", {"page": ["1"], "Statuses": ["AUTHORISED,PAID"]}) == []
    assert request_errors("GET", f"/Invoices/{INVOICE_ID}", headers={**HEADERS, "Accept": "application/pdf"}) == []
    assert request_errors("PUT", "/Payments", {"summarizeErrors": ["true"]}, JSON_HEADERS, payment_body()) == []


@pytest.mark.parametrize(
    ("method", "path", "query", "headers", "body", "expected"),
    [
        ("GET", "/Invoice", {}, HEADERS, b"", "no such operation"),
        ("DELETE", "/Invoices", {}, HEADERS, b"", "no such operation"),
        ("GET", "/Invoices", {"pagesize": ["10"]}, HEADERS, b"", "'pagesize' is not declared"),
        ("GET", "/Invoices", {"page": ["one"]}, HEADERS, b"", "not of type 'integer'"),
        ("GET", "/Invoices", {"IDs": ["INV-1"]}, HEADERS, b"", "is not a 'uuid'"),
        ("GET", "/Invoices/INV-0001", {}, HEADERS, b"", "is not a 'uuid'"),
        ("GET", "/Invoices", {}, {"Authorization": "Bearer t"}, b"", "'xero-tenant-id' is missing"),
        ("GET", "/Invoices", {}, {**HEADERS, "X-Debug": "1"}, b"", "'x-debug' is not declared"),
        ("GET", "/Invoices", {}, {**HEADERS, "Authorization": "Basic x"}, b"", "not a bearer token"),
        ("GET", "/Organisation", {}, {**HEADERS, "Accept": "application/pdf"}, b"", "Accept 'application/pdf'"),
        ("GET", "/Organisation", {}, JSON_HEADERS, b"{}", "takes none"),
        ("PUT", "/Payments", {}, JSON_HEADERS, b"", "body is missing"),
        ("PUT", "/Payments", {}, {**HEADERS, "Content-Type": "text/plain"}, payment_body(), "not documented"),
        ("PUT", "/Payments", {}, JSON_HEADERS, payment_body(Amount="5.00"), "not of type 'number'"),
        ("PUT", "/Payments", {}, JSON_HEADERS, payment_body(InvoiceId=INVOICE_ID), "'InvoiceId' is not a property"),
        ("PUT", "/Payments", {}, JSON_HEADERS, payment_body(Status="VOID"), "is not one of"),
        ("PUT", "/Payments", {}, JSON_HEADERS, payment_body(Invoice={"Total": 5}), "readOnly"),
        ("POST", f"/Payments/{PAYMENT_ID}", {}, JSON_HEADERS, b'{"Payments": [{"Status": "DELETED"}]}', "Status"),
    ],
)
def test_bad_requests_are_caught(method, path, query, headers, body, expected):
    errors = request_errors(method, path, query, headers, body)
    assert any(expected in e for e in errors), errors


def test_identity_document_covers_connections():
    doc = openapi.identity()
    headers = {"Authorization": "Bearer t", "Accept": "application/json"}
    assert doc.request_errors("GET", "/connections", {}, headers, b"") == []
    assert doc.request_errors("GET", "/connections", {"authEventId": ["nope"]}, headers, b"") != []


# --- the checker catches unrealistic answers --------------------------------------------------------


def answer_errors(method, path, payload, status=200):
    body = json.dumps(payload).encode()
    return openapi.accounting().response_errors(method, API + path, status, "application/json", body)


@pytest.mark.parametrize(
    ("method", "path", "payload", "status"),
    [
        ("GET", "/Organisation", {"Organisations": [organisation()]}, 200),
        ("GET", "/Accounts", {"Accounts": [account()]}, 200),
        ("GET", "/Contacts", {"Contacts": [contact()], "pagination": pagination(1, 1, 1)}, 200),
        ("GET", f"/Contacts/{CONTACT_ID}", {"Contacts": [contact()]}, 200),
        ("GET", "/Invoices", {"Invoices": [invoice()], "pagination": pagination(1, 1, 1)}, 200),
        ("GET", f"/Invoices/{INVOICE_ID}", {"Invoices": [invoice()]}, 200),
        ("GET", "/Payments", {"Payments": [payment()]}, 200),
        ("PUT", "/Payments", {"Payments": [payment()]}, 200),
        ("PUT", "/Payments", validation_error("Payment amount exceeds the amount outstanding"), 400),
        ("POST", f"/Payments/{PAYMENT_ID}", {"Payments": [payment(Status="DELETED")]}, 200),
    ],
)
def test_canned_answers_fit_the_document(method, path, payload, status):
    assert answer_errors(method, path, payload, status) == []


def test_connections_answer_fits_the_identity_document():
    body = json.dumps([connection()]).encode()
    assert openapi.identity().response_errors("GET", "/connections", 200, "application/json", body) == []


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"Invoices": [invoice(AmountDeu=1.0)]}, "'AmountDeu' is not a property"),
        ({"Invoices": [invoice(Total="1250.10")]}, "not of type 'number'"),
        ({"Invoices": [invoice(InvoiceID="INV-1")]}, "is not a 'uuid'"),
        ({"Invoices": invoice()}, "not of type 'array'"),
    ],
)
def test_unrealistic_answers_are_caught(payload, expected):
    errors = answer_errors("GET", "/Invoices", payload)
    assert any(expected in e for e in errors), errors


def test_undocumented_statuses_are_left_alone():
    assert answer_errors("GET", "/Invoices", {"anything": 1}, status=503) is None


# --- the fixture's check ---------------------------------------------------------------------------


def test_check_contract_fails_on_a_bad_exchange(stub):
    stub.api("GET", "/Invoices", xero_reply({"Invoices": []}))
    requests.get(stub.api_url + "/Invoices", params={"Page": "1"}, headers=HEADERS, timeout=5)
    with pytest.raises(AssertionError, match="'Page' is not declared"):
        check_contract(stub)
    stub.exchanges.clear()  # leave the fixture's own check a clean record


def test_check_contract_fails_on_an_unrealistic_answer(stub):
    stub.api("GET", "/Invoices", xero_reply({"Invoices": [invoice(Totl=1)]}))
    requests.get(stub.api_url + "/Invoices", headers=HEADERS, timeout=5)
    with pytest.raises(AssertionError, match="'Totl' is not a property"):
        check_contract(stub)
    stub.exchanges.clear()


def test_every_client_method_is_covered(stub, make_client):
    """One call of each method; every exchange is checked (by the fixture), and together they
    reach each documented operation the client uses."""
    stub.api("GET", "/Organisation", xero_reply({"Organisations": [organisation()]}))
    stub.api("GET", "/Accounts", xero_reply({"Accounts": [account()]}))
    stub.api("GET", "/Contacts", xero_reply({"Contacts": [contact()], "pagination": pagination(1, 1, 1)}))
    stub.api("GET", f"/Contacts/{CONTACT_ID}", xero_reply({"Contacts": [contact()]}))
    stub.api("GET", "/Invoices", xero_reply({"Invoices": [invoice()], "pagination": pagination(1, 1, 1)}))
    stub.api("GET", "/Payments", xero_reply({"Payments": [payment()]}))
    stub.api("PUT", "/Payments", xero_reply({"Payments": [payment()]}))
    stub.api("POST", f"/Payments/{PAYMENT_ID}", xero_reply({"Payments": [payment(Status="DELETED")]}))

    def invoice_by_id(seen):
        if seen.headers.get("Accept") == "application/pdf":
            return Reply(200, b"%PDF-1.4 test", {"Content-Type": "application/pdf"})
        return xero_reply({"Invoices": [invoice()]})

    stub.api("GET", f"/Invoices/{INVOICE_ID}", invoice_by_id)
    since = datetime(2024, 1, 1, tzinfo=UTC)
    client = make_client()
    client.get_organisation()
    client.list_accounts(where='Status=="ACTIVE"')
    list(client.iter_contacts(where='ContactStatus=="ACTIVE"', search_term="a", modified_since=since, page_size=50))
    client.list_contacts(1, ids=[CONTACT_ID], include_archived=True)
    client.get_contact(CONTACT_ID)
    list(
        client.iter_invoices(
            invoice_numbers=["INV-0001"],
            ids=[INVOICE_ID],
            statuses=["AUTHORISED"],
            where='Type=="ACCREC"',
            modified_since=since,
            contact_ids=[CONTACT_ID],
            summary_only=True,
        )
    )
    client.get_invoice(INVOICE_ID)
    client.invoice_pdf(INVOICE_ID)
    client.list_payments(where='Status=="AUTHORISED"', page=1)
    client.create_payment(
        PaymentDraft(INVOICE_ID, Decimal("5.00"), date(2024, 6, 1), account_id=ACCOUNT_ID, reference="r"),
        idempotency_key="k",
    )
    client.reverse_payment(PAYMENT_ID, idempotency_key="k2")

    covered = set()
    doc = openapi.accounting()
    for seen, _reply in stub.exchanges:
        assert doc.request_errors(seen.method, seen.path, seen.query, seen.headers, seen.body) == []
        operations = doc.operations(seen.method, seen.path)
        accept = seen.headers.get("Accept")
        covered |= {
            (op.method.upper(), op.template)
            for op in operations
            if accept in doc._answer_types(op)  # the operation that serves this Accept
        }
    assert covered == {
        ("GET", "/Organisation"),
        ("GET", "/Accounts"),
        ("GET", "/Contacts"),
        ("GET", "/Contacts/{ContactID}"),
        ("GET", "/Contacts/{ContactNumber}"),  # same shape as /Contacts/{ContactID}: both match
        ("GET", "/Invoices"),
        ("GET", "/Invoices/{InvoiceID}"),  # JSON and, via x-path, the PDF
        ("GET", "/Payments"),
        ("PUT", "/Payments"),
        ("POST", "/Payments/{PaymentID}"),
    }
    pdf_ops = [op.op["operationId"] for op in doc.operations("GET", API + f"/Invoices/{INVOICE_ID}")]
    assert "getInvoiceAsPdf" in pdf_ops
