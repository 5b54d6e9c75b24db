"""The staff invoice list as a streaming CSV file, with the list's filters applied."""

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.query import QuerySet
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.csv_export import csv_safe
from integrations.locale import forget_tenant_locale
from integrations.models import DataSource
from tests.billing.factories import InvoiceFactory, OrganizationFactory

EXPORT = reverse("billing:invoices-export")


def _rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff"), "a byte order mark, so spreadsheets read UTF-8"
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def _numbers(response) -> list[str]:
    return [row[0] for row in _rows(response)[1:]]


@pytest.fixture
def invoices(db):
    now = timezone.now()
    acme, globex = OrganizationFactory(name="Acme"), OrganizationFactory(name="Globex")
    return {
        "acme-open": InvoiceFactory(organization=acme, number="INV-1", invoice_date=now - timezone.timedelta(days=5)),
        "acme-past-due": InvoiceFactory(
            organization=acme,
            number="INV-2",
            invoice_date=now - timezone.timedelta(days=40),
            due_date=now - timezone.timedelta(days=10),
        ),
        "acme-paid": InvoiceFactory(
            organization=acme,
            number="INV-3",
            invoice_date=now - timezone.timedelta(days=60),
            paid_amount=Decimal("1234.56"),
            balance_due=Decimal("0"),
        ),
        "globex-open": InvoiceFactory(
            organization=globex, number="INV-4", invoice_date=now - timezone.timedelta(days=1)
        ),
        "deleted": InvoiceFactory(organization=globex, number="INV-5", deleted_at=now),
    }


def test_every_invoice_the_list_shows_newest_first(billing_client, invoices):
    assert _numbers(billing_client.get(EXPORT)) == ["INV-4", "INV-1", "INV-2", "INV-3"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"state": "open"}, ["INV-4", "INV-1", "INV-2"]),
        ({"state": "paid"}, ["INV-3"]),
        ({"state": "past_due"}, ["INV-2"]),
        ({"q": "inv-4"}, ["INV-4"]),
        ({"organization": "acme", "state": "open"}, ["INV-1", "INV-2"]),
        ({"date_from": "days_ago:45", "date_to": "days_ago:2"}, ["INV-1", "INV-2"]),
    ],
)
def test_the_lists_filters_apply_to_the_export(billing_client, invoices, query, expected):
    params = {}
    for name, value in query.items():
        if value == "acme":
            value = invoices["acme-open"].organization_id
        elif str(value).startswith("days_ago:"):
            value = (timezone.localdate() - timezone.timedelta(days=int(value.split(":")[1]))).isoformat()
        params[name] = value

    exported = _numbers(billing_client.get(EXPORT, params))

    listed = [
        invoice.number for invoice in billing_client.get(reverse("billing:invoices"), params).context["object_list"]
    ]
    assert exported == listed == expected


def test_columns_and_values(billing_client, invoices):
    """Machine-readable whatever the tenant's display formats: plain decimals, ISO dates and a
    currency column."""
    DataSource.objects.update(currency_code="EUR", culture_code="de-DE", date_format="dd.MM.yyyy")
    forget_tenant_locale()
    header, *rows = _rows(billing_client.get(EXPORT, {"q": "INV-2"}))
    invoice = invoices["acme-past-due"]
    assert header == [
        "Number",
        "Organization",
        "Invoice date",
        "Due date",
        "Status",
        "Past due",
        "Total",
        "Tax",
        "Paid",
        "Balance due",
        "Currency",
        "PO number",
    ]
    assert rows == [
        [
            "INV-2",
            "Acme",
            timezone.localtime(invoice.invoice_date).date().isoformat(),
            timezone.localtime(invoice.due_date).date().isoformat(),
            "Sent",
            "yes",
            "1234.56",
            "34.56",
            "0.00",
            "1234.56",
            "EUR",
            "",
        ]
    ]


def test_the_response_streams_the_invoices_in_chunks(billing_client, invoices, monkeypatch, django_assert_num_queries):
    with CaptureQueriesContext(connection) as answering:
        response = billing_client.get(EXPORT)

    assert not any("billing_invoice" in query["sql"] for query in answering.captured_queries), (
        "read as the client reads"
    )
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="invoices-')
    chunks = iter(response.streaming_content)
    with django_assert_num_queries(0):
        header = next(chunks)  # nothing is read before the client reads
    assert header.decode().startswith("\ufeffNumber,")

    def no_full_list(queryset):
        raise AssertionError("the export must read with iterator(), never load the whole list")

    monkeypatch.setattr(QuerySet, "_fetch_all", no_full_list)
    assert len(list(chunks)) == 4, "one chunk per invoice"


def test_no_cell_can_run_as_a_formula(billing_client, db):
    InvoiceFactory(
        organization=OrganizationFactory(name="+SUM(A1:A9)"),
        number='=HYPERLINK("http://evil.example","Pay here")',
        status="-2+3",
        po_number="@cmd",
        balance_due=Decimal("-10.00"),
    )

    [row] = _rows(billing_client.get(EXPORT))[1:]

    assert row[0] == '\'=HYPERLINK("http://evil.example","Pay here")'
    assert row[1] == "'+SUM(A1:A9)"
    assert row[4] == "'-2+3"
    assert row[11] == "'@cmd"
    assert row[9] == "-10.00", "a negative amount stays a number"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("INV-1", "INV-1"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
        (Decimal("-5.00"), Decimal("-5.00")),
    ],
)
def test_csv_safe(value, written):
    assert csv_safe(value) == written


def test_staff_only(client, billing_client, admin_client, client_client, invoices):
    assert billing_client.get(EXPORT).status_code == 200
    assert admin_client.get(EXPORT).status_code == 200
    assert client_client.get(EXPORT).status_code == 403
    anonymous = client.get(EXPORT)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("accounts:login"))


def test_the_list_links_to_the_export_with_its_filters(billing_client, invoices):
    page = billing_client.get(reverse("billing:invoices"), {"state": "open", "q": "INV", "page": "1"}).content.decode()
    assert f'href="{EXPORT}?state=open&amp;q=INV"' in page or f'href="{EXPORT}?q=INV&amp;state=open"' in page
    assert f'href="{EXPORT}"' in billing_client.get(reverse("billing:invoices")).content.decode()
