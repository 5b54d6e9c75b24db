"""Issue 13: the navigation marks the item the page is under (aria-current, computed from the
resolved URL name by accounts.context_processors), on every page of the access matrix; the
Admin link (Django's admin, read-only) is in the staff navigation for Master Admins only."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.accounts.test_access_matrix import EXPECTED
from tests.billing.factories import OrganizationFactory
from tests.factories import UserFactory
from tests.roles import ADMIN, BILLING, CLIENT, PUBLIC

NAV_LINK = re.compile(
    r'<a href="(?P<href>[^"]*)" class="(?P<classes>nav-link[^"]*)"(?: aria-current="(?P<current>[^"]*)")?>'
    r"(?:<i [^>]*></i>)?(?P<label>[^<]+)</a>"
)
STAFF_NAVIGATION, CLIENT_NAVIGATION = 'aria-label="Main navigation"', 'aria-label="Client navigation"'
NAVIGATION = {ADMIN: STAFF_NAVIGATION, BILLING: STAFF_NAVIGATION, CLIENT: CLIENT_NAVIGATION}


def nav_links(html: str) -> dict[str, str | None]:
    """Each navigation link's label -> its aria-current (None: not current)."""
    return {match["label"]: match["current"] for match in NAV_LINK.finditer(html)}


def current(html: str) -> dict[str, str]:
    return {label: value for label, value in nav_links(html).items() if value}


def _signed_in(role) -> tuple[Client, object]:
    user = UserFactory(role=role, organization=OrganizationFactory() if role == CLIENT else None)
    web = Client()
    web.force_login(user)
    return web, user


@pytest.mark.parametrize("role", [ADMIN, BILLING, CLIENT], ids=["admin", "billing", "client"])
def test_every_page_marks_exactly_one_navigation_item_as_current(db, role):
    web, user = _signed_in(role)
    pages = 0
    for name, (kwargs, method, allowed, *_) in sorted(EXPECTED.items()):
        if method != "get" or allowed == PUBLIC or role not in allowed:
            continue
        url = reverse(name, kwargs=kwargs(user) if callable(kwargs) else kwargs)
        response = web.get(url)
        is_html = response.get("Content-Type", "").startswith("text/html")
        html = response.content.decode(errors="replace") if is_html else ""
        if response.status_code != 200 or NAVIGATION[role] not in html:
            continue  # a file, a fragment or a redirect: no navigation
        pages += 1
        marked = current(html)
        assert len(marked) == 1, (name, marked)
        [(label, value)] = marked.items()
        href = dict((m["label"], m["href"]) for m in NAV_LINK.finditer(html))[label]
        assert value == ("page" if href == url else "true"), (name, label, value)
        # Bootstrap's look of the current item goes with it, and with it only.
        assert all(("active" in m["classes"].split()) == bool(m["current"]) for m in NAV_LINK.finditer(html)), name
    assert pages >= (8 if role == CLIENT else 20)


@pytest.mark.parametrize(
    "name, kwargs, label, value",
    [
        ("integrations:list", {}, "Integrations", "page"),
        ("integrations:sync-history", {}, "Sync history", "page"),
        ("integrations:settings", {"provider_key": "kaseya-bms"}, "Integrations", "true"),
        ("payments:list", {}, "Payments", "page"),
        ("payments:posting-errors", {}, "Posting errors", "page"),
        ("payments:calendar", {}, "Payments calendar", "page"),
        ("payments:reconciliation", {}, "Payments", "true"),
        ("notifications:settings", {}, "Notifications", "page"),
        ("notifications:log", {}, "Notification log", "page"),
        ("billing-config:image-sources", {}, "Billing › Invoice Image Data", "page"),
        ("accounts:audit", {}, "Audit log", "page"),
    ],
)
def test_the_staff_navigation_marks_the_section_of_the_page(db, name, kwargs, label, value):
    web, _ = _signed_in(ADMIN)
    html = web.get(reverse(name, kwargs=kwargs)).content.decode()
    assert current(html) == {label: value}


def test_a_page_within_a_section_marks_it_but_not_as_the_page(db):
    web, user = _signed_in(ADMIN)
    invoice = EXPECTED["billing:invoice"][0](user)
    run = EXPECTED["integrations:sync-run"][0](user)
    delivery_page = EXPECTED["notifications:detail"][0](user)
    assert current(web.get(reverse("billing:invoice", kwargs=invoice)).content.decode()) == {"Invoices": "true"}
    assert current(web.get(reverse("integrations:sync-run", kwargs=run)).content.decode()) == {"Sync history": "true"}
    html = web.get(reverse("notifications:detail", kwargs=delivery_page)).content.decode()
    assert current(html) == {"Notification log": "true"}


def test_the_client_navigation_marks_the_section_of_the_page(db):
    web, user = _signed_in(CLIENT)

    def marked(name, kwargs=None):
        return current(web.get(reverse(name, kwargs=kwargs)).content.decode())

    assert marked("client:invoices") == {"Invoices": "page"}
    assert marked("client:invoice", EXPECTED["client:invoice"][0](user)) == {"Invoices": "true"}
    assert marked("client-payments:methods") == {"Payment methods": "page"}
    rule = EXPECTED["client-payments:autopay-rule"][0](user)
    assert marked("client-payments:autopay-rule", rule) == {"Autopay": "true"}
    assert marked("client:profile") == {"Profile": "page"}


def test_the_admin_link_is_in_the_navigation_of_master_admins_only(db):
    admin, _ = _signed_in(ADMIN)
    links = {m["label"]: m["href"] for m in NAV_LINK.finditer(admin.get(reverse("billing:invoices")).content.decode())}
    assert links["Admin"] == reverse("admin:index") == "/admin/"
    assert admin.get(links["Admin"]).status_code == 200
    billing, _ = _signed_in(BILLING)
    labels = nav_links(billing.get(reverse("billing:invoices")).content.decode())
    assert "Invoices" in labels and "Admin" not in labels and "Users" not in labels
    assert billing.get("/admin/").status_code == 403
