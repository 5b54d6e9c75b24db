"""Issue 14 item 12: the staff invoice list names its count in the singular when there is one,
gives the Organization filter its room, and answers a page past the end with the last page."""

import re

import pytest
from django.urls import reverse

from billing.views import InvoiceListView
from tests.billing.factories import InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def _numbers(html: str) -> list[str]:
    return re.findall(r'href="/billing/invoices/\d+/">([^<]+)</a>', html)


def test_one_invoice_is_one_invoice_and_more_are_plural(billing_client):
    org = OrganizationFactory()
    InvoiceFactory(organization=org)
    html = billing_client.get(reverse("billing:invoices")).content.decode()
    assert 'data-testid="invoice-count">1 invoice</p>' in html
    InvoiceFactory(organization=org)
    html = billing_client.get(reverse("billing:invoices")).content.decode()
    assert 'data-testid="invoice-count">2 invoices</p>' in html


def test_a_page_past_the_end_shows_the_last_page(billing_client, monkeypatch):
    monkeypatch.setattr(InvoiceListView, "paginate_by", 2)
    invoices = InvoiceFactory.create_batch(5)
    last_page = billing_client.get(reverse("billing:invoices"), {"page": 3})
    past_the_end = billing_client.get(reverse("billing:invoices"), {"page": 99})
    assert past_the_end.status_code == 200
    assert _numbers(past_the_end.content.decode()) == _numbers(last_page.content.decode())
    assert len(_numbers(past_the_end.content.decode())) == 1
    assert "Page 3 of 3" in past_the_end.content.decode()
    for odd in ("0", "-1", "abc"):
        response = billing_client.get(reverse("billing:invoices"), {"page": odd})
        assert response.status_code == 200
        assert "Page 1 of 3" in response.content.decode() or "Page 3 of 3" in response.content.decode()
    # Filters stay applied on the page it falls back to.
    org = invoices[0].organization
    filtered = billing_client.get(reverse("billing:invoices"), {"organization": org.pk, "page": 7})
    assert filtered.status_code == 200 and _numbers(filtered.content.decode()) == [invoices[0].number]


def test_the_organization_filter_gets_a_wider_column(billing_client):
    html = billing_client.get(reverse("billing:invoices")).content.decode()
    field = re.search(r'<div class="([^"]+)">\s*<label class="form-label small" for="id_organization"', html)
    assert field and "col-lg-6" in field.group(1) and "col-xxl-3" in field.group(1)
    assert "All organizations" in html


def test_secondary_columns_fold_on_phones_and_balance_due_stays(billing_client):
    InvoiceFactory()
    html = billing_client.get(reverse("billing:invoices")).content.decode()
    assert '<th class="d-none d-md-table-cell">Date</th>' in html
    assert '<th class="text-end d-none d-md-table-cell">Total</th>' in html
    assert '<th class="text-end text-nowrap">Balance due</th>' in html


def test_inverted_dates_mark_the_field_not_only_the_message(billing_client):
    page = billing_client.get(reverse("billing:invoices"), {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    html = page.content.decode()
    date_to = re.search(r'<input[^>]*name="date_to"[^>]*>', html).group(0)
    assert "is-invalid" in date_to and 'aria-invalid="true"' in date_to
    assert 'aria-describedby="id_date_to_error"' in date_to
    assert re.search(r'id="id_date_to_error"[^>]*>The end date is before the start date\.<', html)
    date_from = re.search(r'<input[^>]*name="date_from"[^>]*>', html).group(0)
    assert "is-invalid" not in date_from and "aria-invalid" not in date_from
