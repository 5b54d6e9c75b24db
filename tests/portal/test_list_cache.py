"""The client invoice list is rendered once and served from the cache until invoices change."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from integrations.models import SyncTrigger
from organizations.models import Contact, Organization
from portal import list_cache
from portal.selectors import client_invoice_list
from tests.billing.factories import InvoiceFactory, OrganizationFactory
from tests.integrations.sync.helpers import run_sync
from tests.portal.test_client_portal import listed_numbers


def _get(web, url=None):
    """(html, SQL run to answer)."""
    with CaptureQueriesContext(connection) as queries:
        response = web.get(url or reverse("client:invoices"))
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


def _read_invoices(sql: list[str]) -> bool:
    return any("billing_invoice" in statement for statement in sql)


def test_a_second_view_reads_no_invoices_and_shows_the_same(db, client_of):
    org = OrganizationFactory()
    InvoiceFactory.create_batch(3, organization=org)
    _user, web = client_of(org)
    first, first_sql = _get(web)
    again, again_sql = _get(web)
    assert _read_invoices(first_sql) and not _read_invoices(again_sql)
    assert again == first.replace(_csrf(first), _csrf(again))  # only the per-response CSRF mask differs
    assert len(again_sql) == 1  # the user (the session comes from Redis)


def _first_row(html: str) -> str:
    return html.split("<tbody>", 1)[1].split("</tr>", 1)[0]


def _row_of(html: str, number: str) -> str:
    return html.split(f">{number}</a>", 1)[1].split("</tr>", 1)[0]


def _is_open(html: str) -> bool:
    """The row has the Open or Past due badge."""
    return "Open</span>" in html or "Past due</span>" in html


def _csrf(html: str) -> str:
    return html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]


def test_each_organization_has_its_own_list(db, client_of):
    """Contacts of one organization share a cached list; another organization never sees it."""
    mine, theirs = OrganizationFactory(), OrganizationFactory()
    InvoiceFactory(organization=mine, number="INV-MINE")
    InvoiceFactory(organization=theirs, number="INV-THEIRS")
    _u1, web_mine = client_of(mine)
    _u2, colleague = client_of(mine)
    _u3, web_theirs = client_of(theirs)
    assert listed_numbers(_get(web_mine)[0]) == ["INV-MINE"]
    html, sql = _get(colleague)
    assert listed_numbers(html) == ["INV-MINE"] and not _read_invoices(sql)
    assert listed_numbers(_get(web_theirs)[0]) == ["INV-THEIRS"]


def test_filters_and_pages_are_cached_apart(db, client_of):
    org = OrganizationFactory()
    InvoiceFactory(organization=org, number="INV-OPEN")
    InvoiceFactory(organization=org, number="INV-PAID", balance_due=0, paid_amount=Decimal("10"))
    _user, web = client_of(org)
    url = reverse("client:invoices")
    assert listed_numbers(_get(web)[0]) == ["INV-OPEN", "INV-PAID"]
    assert listed_numbers(_get(web, url + "?state=paid")[0]) == ["INV-PAID"]
    assert listed_numbers(_get(web, url + "?q=open")[0]) == ["INV-OPEN"]
    assert listed_numbers(_get(web, url + "?state=paid")[0]) == ["INV-PAID"]


def test_a_saved_invoice_shows_at_once(db, client_of, django_capture_on_commit_callbacks):
    invoice = InvoiceFactory(number="INV-1", total=Decimal("5000.00"), balance_due=Decimal("1234.56"))
    _user, web = client_of(invoice.organization)
    assert "1,234.56" in _get(web)[0]
    with django_capture_on_commit_callbacks(execute=True):
        invoice.balance_due = Decimal("99.00")
        invoice.save()
    html, sql = _get(web)
    assert "99.00" in html and "1,234.56" not in html and _read_invoices(sql)


def test_rendered_again_after_a_change_the_next_day_or_a_lost_version(db, monkeypatch):
    renders = []

    def render():
        renders.append(1)
        return f"list {len(renders)}"

    def rendered():
        return list_cache.rendered("test", 7, (("q", ["x"]),), render)

    assert rendered() == rendered() == "list 1"
    assert list_cache.rendered("test", 8, (("q", ["x"]),), render) == "list 2"  # another organization
    list_cache.invalidate()
    assert rendered() == rendered() == "list 3"
    tomorrow = timezone.localdate() + timedelta(days=1)
    monkeypatch.setattr(timezone, "localdate", lambda: tomorrow)  # "past due" moves with the day
    assert rendered() == "list 4"
    cache.delete(list_cache.VERSION_KEY)  # evicted: never trust what was cached under it
    assert rendered() == rendered() == "list 5"


def test_the_version_never_goes_back_after_eviction(db):
    list_cache.invalidate()
    before = cache.get(list_cache.VERSION_KEY)
    cache.delete(list_cache.VERSION_KEY)
    list_cache.invalidate()
    assert cache.get(list_cache.VERSION_KEY) > before


@pytest.mark.django_db(transaction=True)
def test_a_sync_that_changes_invoices_refreshes_the_list_and_one_that_does_not_keeps_it(
    bms_integration, bms_sandbox, client_of
):
    run_sync(bms_integration)
    # An organization whose list starts (open first, newest first) with an invoice BMS can mark paid.
    organization, invoice = next(
        (org, first)
        for org in Organization.objects.filter(contact__is_active=True).distinct().order_by("bms_id")
        if (first := client_invoice_list(organization_id=org.pk).first()) is not None
        and first.balance_due > 0
        and first.status not in ("Draft", "Void")
    )
    # A real BMS contact: a portal user without one loses access after a sync.
    contact = Contact.objects.filter(organization=organization, is_active=True).exclude(email="").first()
    _user, web = client_of(organization, email=contact.email)
    url = reverse("client:invoices")
    html, _sql = _get(web, url)
    assert listed_numbers(html)[0] == invoice.number and _is_open(_first_row(html))

    run_sync(bms_integration)  # nothing changed in BMS
    html, sql = _get(web, url)
    assert not _read_invoices(sql) and _is_open(_first_row(html))

    bms_sandbox.control.mutate("invoice.pay", id=invoice.bms_id)
    run = run_sync(bms_integration, trigger=SyncTrigger.SYNC_NOW)
    assert run.counts["invoices"]["updated"] >= 1
    html, sql = _get(web, url)
    assert _read_invoices(sql)
    assert invoice.number in listed_numbers(html) and not _is_open(_row_of(html, invoice.number))


def test_only_plain_browsing_is_cached(db, client_of):
    """Searches, deep pages and unknown parameters are rendered each time: no request can
    fill Redis with lists nobody else will see."""
    org = OrganizationFactory()
    InvoiceFactory.create_batch(3, organization=org)
    _user, web = client_of(org)
    url = reverse("client:invoices")
    for query in ("", "?state=paid", "?page=2", "?state=open&page=10"):
        _get(web, url + query)
        assert not _read_invoices(_get(web, url + query)[1]), query
    assert not _read_invoices(_get(web, url + "?state=paid&page=1")[1])  # the same list as ?state=paid
    for query in ("?q=INV", "?q=%20x%20", "?page=11", "?page=abc", "?state=nonsense", "?utm=1", "?page=2&x=1"):
        _get(web, url + query)
        assert _read_invoices(_get(web, url + query)[1]), query
