"""Issue 14 item 4: the portal on a phone (390 px). The client's top bar and the staff sidebar
fold behind a Menu button, no page scrolls sideways, and Balance due is in view on the
invoice lists. Item 12 at every width: the Organization filter shows "All organizations"
in full."""

import re
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from tests.billing.factories import InvoiceFactory, InvoiceLineFactory, OrganizationFactory
from tests.browser.conftest import assert_no_sideways_scroll, assert_within_width, sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DAY = timezone.timedelta(days=1)


def _invoices(org, count: int = 6, first: int = 10_000) -> list:
    """Invoices with the widest values a list shows: long numbers, six-figure amounts, the
    longest status with a Past due badge."""
    now = timezone.now()
    invoices = [
        InvoiceFactory(
            organization=org,
            number=f"INV-2026-{first + n}",
            status="Partially Paid" if n % 2 else "Sent",
            invoice_date=now - (40 + n) * DAY,
            due_date=now - (10 - 4 * n) * DAY,  # past due, then due later
            total=Decimal("123456.78"),
            balance_due=Decimal("98765.43") + n,
        )
        for n in range(count)
    ]
    InvoiceFactory(organization=org, number=f"INV-2026-{first - 1}", status="Paid", balance_due=Decimal("0"))
    InvoiceLineFactory(invoice=invoices[0], source=invoices[0].source, name="Managed firewall, per site, monthly")
    return invoices


def test_the_client_portal_on_a_phone(phone, screenshot):
    org = OrganizationFactory(name="Ironwood Cove Dental Co.")
    invoices = _invoices(org)
    UserFactory(
        email="casey.client.with.a.long.address@ironwood-cove-dental.example",
        role=Role.CLIENT_CONTACT,
        organization=org,
    )

    phone.goto("/accounts/login/")
    assert_no_sideways_scroll(phone)
    sign_in(phone, "casey.client.with.a.long.address@ironwood-cove-dental.example", DEFAULT_PASSWORD)
    expect(phone.get_by_role("heading", name="Invoices")).to_be_visible()
    assert_no_sideways_scroll(phone)

    # Balance due, its header and every row's amount, in view without scrolling sideways.
    table = phone.get_by_test_id("client-invoice-table")
    screenshot("debug-client", of=phone, full_page=False)
    expect(table.get_by_role("columnheader", name="Balance due")).to_be_visible()
    assert_within_width(phone, table.get_by_role("columnheader", name="Balance due"))
    expect(table.get_by_test_id("balance-due")).to_have_count(len(invoices) + 1)
    assert_within_width(phone, table.get_by_test_id("balance-due"))
    expect(table.get_by_test_id("balance-due").first).to_be_visible()
    expect(table.get_by_role("columnheader", name="Total")).to_be_hidden()  # folded on phones

    # The navigation folds behind Menu; Sign out is reached through it.
    sign_out = phone.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()
    screenshot("phone-client-01-invoices", readme="client-invoices-phone", of=phone, full_page=False)
    phone.get_by_role("button", name="Menu").click()
    expect(sign_out).to_be_visible()
    assert_within_width(phone, sign_out)
    assert_no_sideways_scroll(phone)
    screenshot("phone-client-02-menu-open", of=phone, full_page=False)
    phone.get_by_role("link", name="Profile").click()
    expect(phone.get_by_role("heading", name="Profile")).to_be_visible()
    assert_no_sideways_scroll(phone)

    # The invoice page (lines, summary, the PDF) fits too.
    phone.goto(f"/portal/invoices/{invoices[0].pk}/")
    expect(phone.get_by_test_id("invoice-lines")).to_contain_text("Managed firewall")
    expect(phone.get_by_test_id("invoice-image")).to_be_visible()
    assert_no_sideways_scroll(phone)
    screenshot("phone-client-03-invoice", of=phone)

    phone.get_by_role("button", name="Menu").click()
    sign_out.click()
    expect(phone.get_by_role("button", name="Sign in")).to_be_visible()


STAFF_PAGES = [
    "/integrations/",
    "/organizations/",
    "/billing/invoices/",
    "/accounts/client-access/",
    "/configurations/billing/invoice-image-data/",
    "/configurations/notifications/settings/",
    "/configurations/notifications/log/",
    "/integrations/sync-history/",
]


def test_staff_pages_on_a_phone(phone, screenshot):
    names = ["Sterling Gate Law Group Incorporated", "Ironwood Cove Dental Co.", "Harbor Hill Engineering Ltd."]
    for n, name in enumerate(names):
        _invoices(OrganizationFactory(name=name), count=3, first=10_000 + 100 * n)
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)

    sign_in(phone, "books@msp.example", DEFAULT_PASSWORD)
    expect(phone.get_by_role("heading", name="Integrations")).to_be_visible()
    sign_out = phone.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()  # the sidebar is folded away
    for url in STAFF_PAGES:
        phone.goto(url)
        assert_no_sideways_scroll(phone)

    phone.goto("/billing/invoices/")
    table = phone.get_by_test_id("invoice-table")
    expect(table.get_by_role("columnheader", name="Balance due")).to_be_visible()
    assert_within_width(phone, table.get_by_role("columnheader", name="Balance due"))
    assert_within_width(phone, table.get_by_test_id("balance-due"))
    # The organization, under the number.
    expect(table.locator("tbody tr").first).to_contain_text(re.compile("|".join(map(re.escape, names))))
    screenshot("phone-staff-01-invoices", readme="staff-invoices-phone", of=phone, full_page=False)

    phone.get_by_role("button", name="Menu").click()
    navigation = phone.get_by_role("dialog", name="Main navigation")  # the offcanvas, open
    expect(navigation).to_be_visible()
    expect(sign_out).to_be_visible()
    assert_within_width(phone, sign_out)
    screenshot("phone-staff-02-menu-open", of=phone, full_page=False)
    navigation.get_by_role("link", name="Organizations").click()
    expect(phone.get_by_role("heading", name="Organizations")).to_be_visible()
    expect(phone.locator("#staff-nav")).to_be_hidden()
    assert_no_sideways_scroll(phone)
    expect(phone.get_by_test_id("organization-count")).to_have_text("3 organizations")


def test_the_desktop_layout_keeps_its_sidebar(page):
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)
    sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
    expect(page.get_by_role("navigation", name="Main navigation")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    box = page.get_by_role("navigation", name="Main navigation").bounding_box()
    assert box["x"] == 0 and 240 <= box["width"] <= 260 and box["height"] >= 880


_TEXT_AND_ROOM = """select => {
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  const text = select.options[select.selectedIndex].text;
  const room = select.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return [text, context.measureText(text).width, room];
}"""


@pytest.mark.parametrize("width", [1400, 1200, 992, 768, 390])
def test_the_organization_filter_shows_all_organizations_in_full(browser, live_server, width):
    OrganizationFactory(name="Ironwood Cove Dental Co.")
    UserFactory(email="books@msp.example", role=Role.BILLING_STAFF)
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, "books@msp.example", DEFAULT_PASSWORD)
        page.goto("/billing/invoices/")
        text, needed, room = page.get_by_label("Organization").evaluate(_TEXT_AND_ROOM)
        assert text == "All organizations"
        assert needed <= room, f"at {width} px the filter has {room:.0f} px for {needed:.0f} px of text"
        assert_no_sideways_scroll(page)
    finally:
        context.close()
