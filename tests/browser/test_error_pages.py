"""Issue 14 items 6 and 11 in the browser: Billing staff see why the Kaseya BMS card has no
menu; a page they may not open is a 403 in the portal's layout that says why and where to
go; an unknown address is a 404 in the same layout, at desktop and phone widths."""

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from tests.browser.conftest import assert_no_sideways_scroll, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_billing_staff_are_told_why_and_a_forbidden_page_says_where_to_go(page, screenshot, bms_integration):
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)
    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    expect(page.get_by_test_id("view-only")).to_contain_text("only a Master Admin can set them up")
    card = page.locator("#card-kaseya-bms")
    expect(card.get_by_role("button", name="Kaseya BMS menu")).to_have_count(0)
    expect(card.get_by_test_id("card-locked")).to_have_attribute("title", "Only a Master Admin can change integrations")
    screenshot("errors-01-billing-staff-integrations")

    response = page.goto("/integrations/kaseya-bms/settings/")
    assert response.status == 403
    expect(page.get_by_role("heading", name="This page is not open to your account")).to_be_visible()
    expect(page.get_by_text("for a Master Admin")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()  # the portal's layout
    screenshot("errors-02-403")
    page.get_by_role("link", name="Go to the start page").click()
    expect(page.get_by_role("heading", name="Integrations")).to_be_visible()

    response = page.goto("/billing/invoices/987654/")
    assert response.status == 404
    expect(page.get_by_role("heading", name="There is nothing at this address")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()
    screenshot("errors-03-404")


def test_a_client_on_a_phone_meets_the_404_in_the_client_layout(phone, screenshot):
    from tests.billing.factories import OrganizationFactory

    UserFactory(email="pat@client.example", role=Role.CLIENT_CONTACT, organization=OrganizationFactory())
    sign_in(phone, "pat@client.example", DEFAULT_PASSWORD)
    expect(phone.get_by_role("heading", name="Invoices")).to_be_visible()
    response = phone.goto("/portal/invoices/987654/")
    assert response.status == 404
    expect(phone.get_by_role("heading", name="There is nothing at this address")).to_be_visible()
    assert_no_sideways_scroll(phone)
    screenshot("errors-04-404-client-phone", of=phone, full_page=False)
    phone.get_by_role("link", name="Go to your invoices").click()
    expect(phone.get_by_role("heading", name="Invoices")).to_be_visible()
