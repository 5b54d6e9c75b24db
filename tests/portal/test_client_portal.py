"""The client portal: a contact's invoices, invoice page, comments, isolation and query counts."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import InvoiceComment
from billing.signals import invoice_comment_posted
from integrations.locale import tenant_locale
from tests.billing.factories import InvoiceFactory, InvoiceLineFactory, OrganizationFactory

INVOICE_URLS = ["client:invoice", "client:invoice-image", "client:invoice-pdf", "client:invoice-download"]
ROW_LINK = re.compile(r'<td[^>]*><a href="/portal/invoices/(\d+)/">([^<]+)</a>')


def listed_numbers(html: str) -> list[str]:
    """The invoice numbers of the client list's rows, in order."""
    return [number for _pk, number in ROW_LINK.findall(html)]


def listed_pks(html: str) -> set[int]:
    return {int(pk) for pk, _number in ROW_LINK.findall(html)}


def test_the_list_shows_the_organizations_invoices_open_first(db, client_of):
    org, other = OrganizationFactory(), OrganizationFactory()
    now = timezone.now()
    paid_new = InvoiceFactory(
        organization=org, number="INV-PAID", balance_due=0, paid_amount=Decimal("1234.56"), invoice_date=now
    )
    open_old = InvoiceFactory(
        organization=org,
        number="INV-OPEN",
        invoice_date=now - timezone.timedelta(days=90),
        due_date=now - timezone.timedelta(days=60),
    )
    InvoiceFactory(organization=other, number="INV-OTHER")
    InvoiceFactory(organization=org, number="INV-GONE", deleted_at=now)
    _user, web = client_of(org)
    response = web.get(reverse("client:invoices"))
    assert response.status_code == 200
    html = response.content.decode()
    assert listed_numbers(html) == [open_old.number, paid_new.number]
    assert "INV-OTHER" not in html and "INV-GONE" not in html
    assert "Past due" in html and "1,234.56" in html

    def numbers(**params):
        return listed_numbers(web.get(reverse("client:invoices"), params).content.decode())

    assert numbers(q="open") == ["INV-OPEN"]
    assert numbers(q="INV-OTHER") == []
    assert numbers(state="paid") == ["INV-PAID"]
    assert numbers(state="open") == ["INV-OPEN"]
    assert numbers(state="past_due") == ["INV-OPEN"]
    assert numbers(state="nonsense") == ["INV-OPEN", "INV-PAID"]  # bad filter: ignored, not an error


def test_the_list_pages(db, client_of):
    org = OrganizationFactory()
    InvoiceFactory.create_batch(30, organization=org)
    _user, web = client_of(org)
    first = web.get(reverse("client:invoices")).content.decode()
    assert len(listed_numbers(first)) == 25 and "Page 1 of 2" in first
    second = web.get(reverse("client:invoices"), {"page": 2}).content.decode()
    assert len(listed_numbers(second)) == 5 and "Page 2 of 2" in second
    assert len(listed_numbers(web.get(reverse("client:invoices"), {"page": 99}).content.decode())) == 5


def test_the_invoice_page_shows_lines_amounts_and_the_image_panel(db, client_of):
    invoice = InvoiceFactory(
        number="INV-777",
        total=Decimal("1500.00"),
        tax=Decimal("100.00"),
        paid_amount=Decimal("500"),
        balance_due=Decimal("1000.00"),
    )
    InvoiceLineFactory(invoice=invoice, source=invoice.source, name="Backup plan", total=Decimal("1400"))
    _user, web = client_of(invoice.organization)
    html = web.get(reverse("client:invoice", args=[invoice.pk])).content.decode()
    assert "Invoice INV-777" in html and "Backup plan" in html
    assert "1,400.00" in html and "1,000.00" in html and "1,500.00" in html
    assert f'hx-get="{reverse("client:invoice-image", args=[invoice.pk])}"' in html
    panel = web.get(reverse("client:invoice-image", args=[invoice.pk])).content.decode()
    assert 'data-source="portal"' in panel  # no BMS integration here
    assert "Image from" not in panel  # clients are not told about the MSP's systems
    assert reverse("client:invoice-download", args=[invoice.pk]) in panel
    assert "Sources tried" not in panel  # the reasons are for staff


def test_a_client_comments_once_even_on_a_double_click(db, client_of, django_capture_on_commit_callbacks):
    invoice = InvoiceFactory()
    user, web = client_of(invoice.organization, full_name="Pat Client")
    received = []
    invoice_comment_posted.connect(
        lambda sender, comment, **kw: received.append(comment), weak=False, dispatch_uid="test-comment"
    )
    try:
        url = reverse("client:invoice-comment", args=[invoice.pk])
        with django_capture_on_commit_callbacks(execute=True):
            first = web.post(url, {"body": "  Why is the backup line doubled?  "})
            second = web.post(url, {"body": "Why is the backup line doubled?"})
        assert first.status_code == second.status_code == 302
        comment = InvoiceComment.objects.get()
        assert (comment.body, comment.author, comment.author_name) == (
            "Why is the backup line doubled?",
            user,
            "Pat Client",
        )
        assert received == [comment]
        assert received[0].invoice == invoice and received[0].author == user
        page = web.get(reverse("client:invoice", args=[invoice.pk])).content.decode()
        assert "Why is the backup line doubled?" in page
    finally:
        invoice_comment_posted.disconnect(dispatch_uid="test-comment")


@pytest.mark.parametrize("body,error", [("   ", "Write a comment"), ("x" * 2001, "at most 2000 characters")])
def test_a_bad_comment_is_refused_with_a_clear_error(db, client_of, body, error):
    invoice = InvoiceFactory()
    _user, web = client_of(invoice.organization)
    response = web.post(reverse("client:invoice-comment", args=[invoice.pk]), {"body": body})
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not InvoiceComment.objects.exists()


def test_staff_see_client_comments_on_the_staff_invoice_page(db, client_of, billing_client):
    invoice = InvoiceFactory()
    user, _web = client_of(invoice.organization)
    InvoiceComment.objects.create(invoice=invoice, author=user, author_name="Pat", body="Please resend")
    html = billing_client.get(reverse("billing:invoice", args=[invoice.pk])).content.decode()
    assert "Please resend" in html and "Sources tried" not in html


def test_comment_needs_csrf(db, client_of):
    from django.test import Client

    invoice = InvoiceFactory()
    user, _web = client_of(invoice.organization)
    web = Client(enforce_csrf_checks=True)
    web.force_login(user)
    assert web.post(reverse("client:invoice-comment", args=[invoice.pk]), {"body": "hi"}).status_code == 403
    assert not InvoiceComment.objects.exists()


# --- isolation ----------------------------------------------------------------------------------


def test_isolation_matrix_every_client_against_every_other_organizations_invoices(db, client_of):
    """Each client contact, each URL of each invoice of every other organization: 404, nothing leaks."""
    orgs = OrganizationFactory.create_batch(3)
    invoices = {org.pk: InvoiceFactory.create_batch(2, organization=org) for org in orgs}
    clients = {org.pk: client_of(org) for org in orgs}
    for org in orgs:
        user, web = clients[org.pk]
        for other in orgs:
            for invoice in invoices[other.pk]:
                own = other.pk == org.pk
                for name in INVOICE_URLS:
                    response = web.get(reverse(name, args=[invoice.pk]))
                    assert response.status_code == (200 if own else 404), (user.email, name, invoice.pk)
                    if not own:
                        assert invoice.number.encode() not in response.content
                comment = web.post(reverse("client:invoice-comment", args=[invoice.pk]), {"body": "peek"})
                assert comment.status_code == (302 if own else 404)
        listed = listed_pks(web.get(reverse("client:invoices")).content.decode())
        assert listed == {i.pk for i in invoices[org.pk]}
    assert InvoiceComment.objects.count() == sum(len(v) for v in invoices.values())  # only own invoices


@pytest.mark.parametrize("pk", [0, 999_999, 2**62])
def test_any_other_id_is_404(db, client_of, pk):
    _user, web = client_of(OrganizationFactory())
    for name in INVOICE_URLS:
        assert web.get(reverse(name, args=[pk])).status_code == 404


def test_a_contact_without_an_organization_sees_nothing(db, client_of):
    invoice = InvoiceFactory()
    _user, web = client_of(None)
    html = web.get(reverse("client:invoices")).content.decode()
    assert listed_numbers(html) == [] and "No invoices yet." in html
    for name in INVOICE_URLS:
        assert web.get(reverse(name, args=[invoice.pk])).status_code == 404


def test_a_removed_invoice_is_404_for_the_client(db, client_of):
    invoice = InvoiceFactory(deleted_at=timezone.now())
    _user, web = client_of(invoice.organization)
    assert web.get(reverse("client:invoice", args=[invoice.pk])).status_code == 404


def test_staff_pages_refuse_clients(db, client_of, org_invoice):
    _user, web = client_of(org_invoice.organization)
    for url in [
        reverse("billing:invoices"),
        reverse("billing:invoice", args=[org_invoice.pk]),
        reverse("billing:invoice-pdf", args=[org_invoice.pk]),
        reverse("billing-config:image-sources"),
        reverse("portal:client-access"),
        reverse("organizations:list"),
    ]:
        assert web.get(url).status_code == 403, url


# --- query counts do not grow with the number of invoices ----------------------------------------


def _queries(web, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert web.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_client_list_and_invoice_page_use_a_constant_number_of_queries(db, client_of):
    small, large = OrganizationFactory(), OrganizationFactory()
    InvoiceFactory.create_batch(3, organization=small)
    big = InvoiceFactory.create_batch(120, organization=large)
    for invoice in (big[0], InvoiceFactory(organization=small)):
        InvoiceLineFactory.create_batch(3, invoice=invoice, source=invoice.source)
    _u1, small_web = client_of(small)
    _u2, large_web = client_of(large)
    small_invoice = small.invoices.order_by("pk").last()
    tenant_locale()  # read once a minute per process, not per request
    counts = {}
    for label, web, invoice in (("small", small_web, small_invoice), ("large", large_web, big[0])):
        counts[label] = [
            _queries(web, reverse("client:invoices")),
            _queries(web, reverse("client:invoices") + "?state=open&q=INV&page=2"),
            _queries(web, reverse("client:invoice", args=[invoice.pk])),
            _queries(web, reverse("client:invoice-image", args=[invoice.pk])),
        ]
    assert counts["small"] == counts["large"], counts
    assert max(counts["large"]) <= 10, counts


def test_the_large_list_stays_within_the_query_budget(db, client_of, django_assert_max_num_queries):
    org = OrganizationFactory()
    InvoiceFactory.create_batch(200, organization=org)
    _user, web = client_of(org)
    tenant_locale()  # read once a minute per process, not per request
    # 7: the accounting package's figures for the page ("balances agree") take the integration lookup
    # (and, when one is connected, one query more: tests/payments/test_accounting_balances.py).
    with django_assert_max_num_queries(7):
        web.get(reverse("client:invoices") + "?page=5")


def test_a_deleted_organization_closes_its_portal_at_once(db, client_of):
    from accounts.models import User

    org = OrganizationFactory()
    invoice = InvoiceFactory(organization=org)
    user, web = client_of(org)
    assert web.get(reverse("client:invoices")).status_code == 200
    org.deleted_at = timezone.now()
    org.save(update_fields=["deleted_at"])
    for url in (reverse("client:invoices"), reverse("client:invoice", args=[invoice.pk])):
        assert web.get(url).status_code == 403, url
    # The same answer for a user loaded without the sign-in backend's annotation.
    assert User.objects.get(pk=user.pk).organization_is_deleted


def test_a_clients_request_loads_the_user_and_its_organizations_state_in_one_query(db, client_of):
    user, web = client_of(OrganizationFactory())
    web.get(reverse("client:invoices"))  # the list is now cached
    with CaptureQueriesContext(connection) as queries:
        assert web.get(reverse("client:invoices")).status_code == 200
    assert len(queries) == 1 and "organization" in queries[0]["sql"], queries.captured_queries
