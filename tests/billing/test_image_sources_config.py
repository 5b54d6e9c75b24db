"""Configurations > Billing > Invoice Image Data: the page, saving, bad input, roles."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from billing.models import InvoiceImageSource
from billing.selectors import image_source_config

URL = reverse("billing-config:image-sources")
ALL = ["psa", "accounting", "portal"]


def _state():
    return [(c.key, c.enabled) for c in image_source_config()]


def test_the_page_lists_the_sources_in_order_and_explains_it(billing_client):
    response = billing_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    positions = [html.index(f'data-key="{key}"') for key in ALL]
    assert positions == sorted(positions)  # the default order
    # The accounting row is named after the one accounting provider that can serve it (Xero).
    assert "Kaseya BMS" in html and "Portal rendering" in html and "Xero" in html
    assert 'data-testid="status-accounting">Not configured' in html and "Not configured" in html
    assert "What the order means" in html and "last resort" in html
    assert 'aria-label="Move Kaseya BMS up"' in html and "drag-handle" in html


@pytest.mark.parametrize("fixture", ["admin_client", "billing_client"])
def test_staff_save_the_order_and_check_boxes(request, fixture, admin_user):
    web = request.getfixturevalue(fixture)
    response = web.post(URL, {"order": ["portal", "psa", "accounting"], "enabled": ["portal", "psa"]})
    assert response.status_code == 302
    assert _state() == [("portal", True), ("psa", True), ("accounting", False)]
    page = web.get(URL).content.decode()
    assert "Invoice Image Data saved." in page
    assert page.index('data-key="portal"') < page.index('data-key="psa"') < page.index('data-key="accounting"')
    assert AuditEvent.objects.filter(action="billing.image_sources.save").count() == 1
    # Saving the same again (a double click) changes nothing and audits nothing more.
    web.post(URL, {"order": ["portal", "psa", "accounting"], "enabled": ["portal", "psa"]})
    assert InvoiceImageSource.objects.count() == 3
    assert AuditEvent.objects.filter(action="billing.image_sources.save").count() == 1


@pytest.mark.parametrize(
    "data",
    [
        {"order": ["portal", "psa"], "enabled": ["portal"]},  # one missing
        {"order": ["portal", "portal", "psa", "accounting"]},  # duplicate
        {"order": ["portal", "psa", "accounting", "quickbooks"]},  # unknown
        {"order": ALL, "enabled": ["quickbooks"]},
        {},
    ],
)
def test_bad_input_is_refused_and_changes_nothing(billing_client, data):
    billing_client.post(URL, {"order": ["accounting", "portal", "psa"], "enabled": ["portal"]})
    before = _state()
    response = billing_client.post(URL, data)
    assert response.status_code == 400
    assert "Nothing was changed." in response.content.decode()
    assert _state() == before


def test_saving_needs_csrf_and_the_staff_role(billing_user, client_client):
    web = Client(enforce_csrf_checks=True)
    web.force_login(billing_user)
    assert web.post(URL, {"order": ALL, "enabled": ALL}).status_code == 403
    assert client_client.post(URL, {"order": ALL, "enabled": ALL}).status_code == 403
    assert not InvoiceImageSource.objects.exists()
