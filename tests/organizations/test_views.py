"""Issue 14 item 12 on the organizations list: a page past the end shows the last page, the
count is pluralized, and a search with "&" in it keeps its paging links intact."""

import pytest
from django.urls import reverse

from organizations.views import OrganizationListView
from tests.billing.factories import InvoiceFactory, OrganizationFactory

pytestmark = pytest.mark.django_db


def test_a_page_past_the_end_shows_the_last_page(billing_client, monkeypatch):
    monkeypatch.setattr(OrganizationListView, "paginate_by", 2)
    OrganizationFactory.create_batch(3)
    response = billing_client.get(reverse("organizations:list"), {"page": 42})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Page 2 of 2" in html
    assert 'data-testid="organization-count">3 organizations</p>' in html


def test_one_organization_is_singular(billing_client):
    OrganizationFactory(name="Dental Co.")
    html = billing_client.get(reverse("organizations:list")).content.decode()
    assert 'data-testid="organization-count">1 organization</p>' in html


def test_the_search_is_encoded_in_the_paging_links(billing_client, monkeypatch):
    monkeypatch.setattr(OrganizationListView, "paginate_by", 1)
    OrganizationFactory(name="Smith & Sons A")
    OrganizationFactory(name="Smith & Sons B")
    html = billing_client.get(reverse("organizations:list"), {"q": "Smith & Sons"}).content.decode()
    assert "?q=Smith+%26+Sons&amp;page=2" in html


def test_the_detail_page_counts_invoices_in_words(billing_client):
    org = OrganizationFactory()
    InvoiceFactory(organization=org)
    html = billing_client.get(reverse("organizations:detail", args=[org.pk])).content.decode()
    assert "1 invoice in the invoice list" in html
    InvoiceFactory(organization=org)
    html = billing_client.get(reverse("organizations:detail", args=[org.pk])).content.decode()
    assert "2 invoices in the invoice list" in html


def test_the_detail_page_links_to_the_organizations_client_portal_access(billing_client):
    org = OrganizationFactory()
    html = billing_client.get(reverse("organizations:detail", args=[org.pk])).content.decode()
    assert f'href="{reverse("portal:client-access")}?organization={org.pk}" data-testid="client-access-link"' in html
