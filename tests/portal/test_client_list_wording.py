"""Issue 14 item 17 on the client side: /portal/ leads to the invoices, the list says "open
ones first" only when it is not filtered to a status, the image panel does not name the
MSP's systems, and the list folds secondary columns on phones."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.billing.factories import InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_portal_root_redirects_to_the_invoices_or_to_sign_in(client_of):
    anonymous = Client().get("/portal/", follow=True)
    assert anonymous.redirect_chain[0] == (reverse("client:invoices"), 302)
    assert anonymous.request["PATH_INFO"] == reverse("accounts:login")
    _user, web = client_of(OrganizationFactory())
    signed_in = web.get("/portal/", follow=True)
    assert signed_in.status_code == 200
    assert signed_in.request["PATH_INFO"] == reverse("client:invoices")


def test_open_ones_first_only_when_not_filtered_by_status(client_of):
    org = OrganizationFactory()
    InvoiceFactory(organization=org)
    InvoiceFactory(organization=org, status="Paid", balance_due=0, paid_amount=1234.56)
    _user, web = client_of(org)
    assert "2 invoices, open ones first." in web.get(reverse("client:invoices")).content.decode()
    paid = web.get(reverse("client:invoices"), {"state": "paid"}).content.decode()
    assert "1 invoice." in paid and "open ones first" not in paid
    searched = web.get(reverse("client:invoices"), {"q": "INV"}).content.decode()
    assert "open ones first" in searched  # a search keeps the order


def test_the_client_image_panel_does_not_name_the_source(client_of):
    invoice = InvoiceFactory()
    _user, web = client_of(invoice.organization)
    panel = web.get(reverse("client:invoice-image", args=[invoice.pk])).content.decode()
    assert f"Your invoice {invoice.number} as a PDF" in panel
    assert "Image from" not in panel and "Portal rendering" not in panel
    assert 'data-source="portal"' in panel  # for the page's own use, not shown


def test_staff_still_see_which_source_served(admin_client):
    invoice = InvoiceFactory()
    panel = admin_client.get(reverse("billing:invoice-image", args=[invoice.pk])).content.decode()
    assert "Image from <strong>Portal rendering</strong>" in panel


def test_the_client_table_folds_date_and_total_on_phones(client_of):
    org = OrganizationFactory()
    InvoiceFactory(organization=org)
    _user, web = client_of(org)
    html = web.get(reverse("client:invoices")).content.decode()
    assert '<th class="d-none d-md-table-cell">Date</th>' in html
    assert '<th class="text-end d-none d-md-table-cell">Total</th>' in html
    assert '<th class="text-end text-nowrap">Balance due</th>' in html
