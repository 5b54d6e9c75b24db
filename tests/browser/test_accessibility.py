"""Issue 13: every page of the portal passes an axe-core scan (axe-playwright-python) with no
serious or critical violation, as a Master Admin, as Billing staff, as a client contact and
signed out; each has a skip link to its main content, and the navigation marks where you are.

The pages are those of the access matrix (tests/accounts/test_access_matrix.py): its
builders create the objects the URLs name (and, run first, fill the lists), so a new page is
scanned as soon as it is added there. Django's admin (/admin/) is Django's own and not scanned."""

import re
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.base import AXE_SCRIPT, AxeResults
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.tokens import default_token_generator
from django.shortcuts import render
from django.test import RequestFactory
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from playwright.sync_api import expect

from accounts.staff import staff_invitation_url, staff_invite
from portal.invitations import invitation_url
from portal.models import PortalInvitation
from tests.accounts.test_access_matrix import EXPECTED
from tests.billing.factories import OrganizationFactory
from tests.browser.conftest import sign_in
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.roles import ADMIN, BILLING, CLIENT, PUBLIC

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FAILING = {"serious", "critical"}
# GET URLs that answer something other than a page: a file, a redirect, or a fragment htmx
# puts into its page (scanned there, once loaded).
NOT_PAGES = {
    "home": "a redirect to the role's start page",
    "client:home": "a redirect to the invoice list",
    "healthz": "plain text",
    "readyz": "JSON",
    "accounts:audit-export": "CSV",
    "billing:invoices-export": "CSV",
    "billing:invoice-pdf": "PDF",
    "billing:invoice-download": "PDF",
    "billing:invoice-image": "a fragment of the invoice page",
    "client:invoice-pdf": "PDF",
    "client:invoice-download": "PDF",
    "client-payments:receipt-pdf": "PDF",
    "payments:receipt-pdf": "PDF",
    "client:invoice-image": "a fragment of the invoice page",
    "integrations:card": "a fragment of the Integrations page",
    "notifications:sub-issue-types": "a fragment of the Notifications settings",
    "client-payments:payment-status": "a fragment of the payment's page",
}

# Frames (the invoice's PDF) are not scanned inside: the PDF viewer is Chromium's. Their
# title, which is ours, is checked on the page.
AXE_RUN = "axe.run(document, {resultTypes: ['violations'], iframes: false})"
# What htmx loads into a page once it is there (an integration's card, an invoice's image).
HTMX_DONE = "() => !document.querySelector('.htmx-request')"

SKIP_LINK_FIRST = """() => document.querySelector(
    'a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex="-1"])'
) === document.querySelector('a.skip-link')"""


@pytest.fixture
def page(page):
    """The page, with axe-core in every document it opens (as axe-playwright-python would
    put it there, once per page, but without sending the script over again each time)."""
    page.context.add_init_script(AXE_SCRIPT)
    return page


def axe_violations(page) -> list[str]:
    """Each serious or critical axe violation on the page, one line per element."""
    results = AxeResults(page.evaluate(AXE_RUN))
    path = urlsplit(page.url).path
    return [
        f"{path}: {violation['id']} ({node['impact']}) {violation['help']}: {' '.join(map(str, node['target']))}"
        f"\n    {node['html'][:200]}\n    {node['failureSummary'].replace(chr(10), ' ')}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
        if node["impact"] in FAILING
    ]


def scan(page, url: str, *, status: int = 200) -> list[str]:
    """Open ``url``, wait for what htmx loads into it, check its skip link and scan it."""
    response = page.goto(url)
    assert response.status == status, (url, response.status)
    page.wait_for_function(HTMX_DONE)
    problems = axe_violations(page)
    if page.locator("a.skip-link[href='#main']").count() != 1 or page.locator("main#main").count() != 1:
        problems.append(f"{url}: no skip link to main#main")
    elif not page.evaluate(SKIP_LINK_FIRST):
        problems.append(f"{url}: the skip link is not the first thing Tab reaches")
    return problems


def pages_of(role, user) -> list[str]:
    """The URL of each page ``role`` may open, after every builder of the role's entries has
    run (so lists have rows: an invoice, a payment, a failed delivery, a posting error...)."""
    kwargs_by_name = {}
    for name, (kwargs, method, allowed, *_) in sorted(EXPECTED.items()):
        if allowed != PUBLIC and role in allowed:
            kwargs_by_name[name] = (kwargs(user) if callable(kwargs) else kwargs), method
    return [
        reverse(name, kwargs=kwargs)
        for name, (kwargs, method) in kwargs_by_name.items()
        if method == "get" and name not in NOT_PAGES
    ]


def assert_none(problems: list[str]) -> None:
    assert not problems, f"{len(problems)} serious or critical accessibility violations:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", [ADMIN, BILLING], ids=["master-admin", "billing-staff"])
def test_every_staff_page_has_no_serious_violation(page, screenshot, role):
    user = UserFactory(email="staff@msp.example", role=role)
    urls = pages_of(role, user)
    assert len(urls) >= 20
    sign_in(page, user.email, DEFAULT_PASSWORD)
    problems = [problem for url in urls for problem in scan(page, url)]
    page.goto(reverse("payments:posting-errors"))
    navigation = page.get_by_role("navigation", name="Main navigation")
    expect(navigation.locator("[aria-current]")).to_have_text("Posting errors")
    expect(navigation.get_by_role("link", name="Admin", exact=True)).to_have_count(1 if role == ADMIN else 0)
    screenshot(f"accessibility-navigation-{role}", full_page=False)
    problems += scan(page, "/billing/invoices/987654/", status=404)
    if role == BILLING:
        problems += scan(page, reverse("integrations:settings", args=["kaseya-bms"]), status=403)
    assert_none(problems)


def test_every_client_page_has_no_serious_violation(page):
    user = UserFactory(email="pat@client.example", role=CLIENT, organization=OrganizationFactory())
    urls = pages_of(CLIENT, user)
    assert len(urls) >= 8
    sign_in(page, user.email, DEFAULT_PASSWORD)
    problems = [problem for url in urls for problem in scan(page, url)]
    problems += scan(page, "/portal/invoices/987654/", status=404)
    assert_none(problems)


def _serving(html: str):
    """A Playwright route handler answering with ``html``, as from the live server (its
    static files load)."""
    return lambda route: route.fulfill(body=html, content_type="text/html")


def _rendered(template: str) -> str:
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    return render(request, template).content.decode()


def test_every_public_page_has_no_serious_violation(page):
    """Signed out: sign-in, password reset (with a real link), the staff and client
    invitations (with real tokens), the access request, and the 404, 500 and 503 pages."""
    public = [
        reverse(name, kwargs=kwargs)
        for name, (kwargs, method, allowed, *_) in sorted(EXPECTED.items())
        if allowed == PUBLIC and method == "get" and name not in NOT_PAGES
    ]
    admin = UserFactory(role=ADMIN)
    uidb64, token = urlsafe_base64_encode(force_bytes(admin.pk)), default_token_generator.make_token(admin)
    reset = reverse("accounts:password-reset-confirm", kwargs={"uidb64": uidb64, "token": token})
    staff_link = staff_invitation_url(staff_invite(email="new@msp.example", role=BILLING, actor=admin))
    contact = UserFactory(role=CLIENT, organization=OrganizationFactory(), password=None)
    client_link = invitation_url(contact, PortalInvitation.objects.create(user=contact, invited_by=admin))
    problems = [problem for url in public for problem in scan(page, url)]
    sign_in(page, admin.email, "not-the-password")  # the form again, with its error
    expect(page.get_by_text("do not match an active account")).to_be_visible()
    problems += axe_violations(page)
    problems += scan(page, reset)  # redirects to the form with the token in the session
    expect(page.get_by_role("textbox", name=re.compile("Choose a password"))).to_be_visible()
    problems += scan(page, re.sub(r"^https?://[^/]+", "", staff_link))
    expect(page.get_by_role("textbox", name=re.compile("Choose a password"))).to_be_visible()
    problems += scan(page, re.sub(r"^https?://[^/]+", "", client_link))
    expect(page.get_by_role("textbox", name=re.compile("Choose a password"))).to_be_visible()
    problems += scan(page, "/no-such-page/", status=404)
    for template in ("500.html", "503.html"):
        page.route(f"**/a11y/{template}", _serving(_rendered(template)))
        problems += scan(page, f"/a11y/{template}")
    assert_none(problems)


def test_the_phone_layouts_with_their_menu_open_have_no_serious_violation(phone):
    """At a phone's width the navigation folds behind a Menu button: scanned open, staff (an
    offcanvas dialog) and client (a collapsed bar)."""
    phone.context.add_init_script(AXE_SCRIPT)
    UserFactory(email="staff@msp.example", role=BILLING)
    UserFactory(email="pat@client.example", role=CLIENT, organization=OrganizationFactory())
    problems = []
    for email, menu in (("staff@msp.example", "dialog"), ("pat@client.example", "navigation")):
        phone.context.clear_cookies()
        sign_in(phone, email, DEFAULT_PASSWORD)
        phone.get_by_role("button", name="Menu").click()
        opened = phone.get_by_role(menu, name=re.compile("navigation"))
        expect(opened.get_by_role("link", name="Invoices")).to_be_visible()
        expect(opened.get_by_role("button", name="Sign out")).to_be_visible()
        problems += axe_violations(phone)
    assert_none(problems)


@pytest.mark.parametrize("role", [BILLING, CLIENT], ids=["staff", "client"])
def test_the_skip_link_is_the_first_tab_stop_and_moves_to_the_main_content(page, screenshot, role):
    organization = OrganizationFactory() if role == CLIENT else None
    user = UserFactory(email="someone@example.com", role=role, organization=organization)
    sign_in(page, user.email, DEFAULT_PASSWORD)
    page.goto(reverse("client:invoices" if role == CLIENT else "billing:invoices"))  # a search form first
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).not_to_be_in_viewport()  # hidden until focused
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    screenshot(f"accessibility-skip-link-{'client' if role == CLIENT else 'staff'}", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()
    page.keyboard.press("Tab")  # the next stop is in the main content, past the navigation
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)"), page.evaluate(
        "document.activeElement.outerHTML"
    )
