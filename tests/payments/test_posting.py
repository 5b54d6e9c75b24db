# ruff: noqa: F811 - pytest fixtures are imported and then requested by name
"""Posting succeeded portal payments to Xero (payments/posting.py) against the Xero sandbox over HTTP and
localstripe: one Xero payment per allocation with the allocation's reference, exactly once through a
lost answer and a crash after the PUT; refusals on Posting errors with Retry and Dismiss; pending
until an accounting package is connected; refunds reversed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from integrations.models import Integration
from payments import posting, selectors, services
from payments.models import Initiator, PaymentPosting, PaymentStatus, PostingStatus
from payments.reconciliation import payment_is_reconciled, unreconciled_payments
from payments.services import InvoiceAmount
from payments.tasks import post_payment_task
from providers.xero.client import XeroClient
from providers.xero.installation import XeroInstallation
from tests.providers.xero.conftest import (  # noqa: F401 - fixtures
    FakeClock,
    xero_connected,
    xero_contract,
    xero_integration,
    xero_settings,
)
from xero_sandbox.pytest_plugin import xero_sandbox, xero_sandbox_server  # noqa: F401 - fixtures

from .conftest import make_invoice, save_card

pytestmark = pytest.mark.django_db

PAYMENTS_PATH = "/api.xro/2.0/Payments"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(XeroInstallation, "sleep", staticmethod(fake.sleep))
    monkeypatch.setattr(XeroInstallation, "clock", staticmethod(fake.clock))


@pytest.fixture
def enqueued(monkeypatch):
    """Posting tasks sent (not run): the tests run them, as a worker would, when they choose."""
    sent: list[int] = []
    monkeypatch.setattr(post_payment_task, "delay", lambda posting_id: sent.append(posting_id))
    return sent


@pytest.fixture
def xero(xero_connected):
    """Xero connected and passed its Test Connection (what ``connected=True`` asks for)."""
    Integration.objects.filter(pk=xero_connected.pk).update(last_test_passed=True, last_test_at=timezone.now())
    return xero_connected


def xero_open_invoices(sandbox, count: int = 2):
    """Open USD sales invoices of the Xero sandbox (the ones BMS would have exported)."""
    from integrations.registry import installation_of

    installation = installation_of(Integration.objects.get(provider_key="xero"))
    with installation.client() as client:
        page = client.list_invoices(1, statuses=["AUTHORISED"], page_size=30)
    invoices = [
        i
        for i in page.items
        if i.amount_due and i.amount_due >= Decimal("50") and (i.currency_code or "USD") == "USD" and i.type == "ACCREC"
    ]
    return invoices[:count]


def pay(localstripe, organization, amounts: list[tuple[str, str]], capture) -> object:
    """A client payment of portal invoices numbered like Xero's, charged through localstripe; the
    signal's work (rows, enqueued tasks) runs on commit as in production."""
    invoices = [make_invoice(organization, "500.00", number=number) for number, _ in amounts]
    method = save_card(localstripe, organization)
    payment = services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(inv.pk, Decimal(a)) for inv, (_, a) in zip(invoices, amounts, strict=True)],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="posting",
    )
    with capture(execute=True):
        payment = services.payment_charge(payment_id=payment.pk)
    assert payment.status == PaymentStatus.SUCCEEDED
    return payment


def run(posting_ids) -> list[str]:
    return [post_payment_task.apply(args=[pid]).get() for pid in posting_ids]


def sweep(capture) -> dict:
    with capture(execute=True):
        return posting.postings_sweep()


def created(sandbox) -> list[dict]:
    return [p for p in sandbox.control.payments() if p["Status"] != "DELETED"]


@pytest.fixture
def paying(stripe_integration, localstripe, organization, django_capture_on_commit_callbacks, enqueued):
    def make(amounts):
        return pay(localstripe, organization, amounts, django_capture_on_commit_callbacks)

    return make


def test_a_payment_of_two_invoices_posts_two_xero_payments(
    xero, xero_sandbox, paying, enqueued, django_capture_on_commit_callbacks
):
    first, second = xero_open_invoices(xero_sandbox)
    payment = paying([(first.invoice_number, "20.00"), (second.invoice_number, "35.50")])

    rows = list(PaymentPosting.objects.filter(payment=payment).order_by("allocation__invoice__number"))
    assert len(rows) == 2 and all(r.status == PostingStatus.PENDING for r in rows)
    assert sorted(enqueued) == sorted(r.pk for r in rows)

    assert run(enqueued) == ["posted", "posted"]

    by_reference = {p["Reference"]: p for p in created(xero_sandbox)}
    assert len(by_reference) == 2
    for row in PaymentPosting.objects.filter(payment=payment):
        xero_payment = by_reference[f"portal-allocation-{row.allocation_id}"]
        assert xero_payment["PaymentID"] == row.external_id and row.provider_key == "xero"
        assert xero_payment["InvoiceNumber"] == row.allocation.invoice.number
        assert Decimal(str(xero_payment["Amount"])) == row.allocation.amount
    # Delivered again (a redelivered task, the sweep): nothing more.
    assert run(enqueued) == ["posted", "posted"]
    assert sweep(django_capture_on_commit_callbacks)["enqueued"] == 0
    assert len(created(xero_sandbox)) == 2


def test_a_lost_answer_on_the_put_makes_exactly_one_xero_payment(xero, xero_sandbox, paying, enqueued, monkeypatch):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "40.00")])
    original = XeroClient.create_payment
    puts = []

    def create_payment(self, draft, **kwargs):
        puts.append(kwargs.get("idempotency_key"))
        xero_sandbox.control.set_faults(lost_answer_rate=1.0, paths=[PAYMENTS_PATH])
        try:
            return original(self, draft, **kwargs)
        finally:
            xero_sandbox.control.clear_faults()

    monkeypatch.setattr(XeroClient, "create_payment", create_payment)
    assert run(enqueued) == ["posted"]
    [xero_payment] = created(xero_sandbox)
    row = PaymentPosting.objects.get(payment=payment)
    assert row.external_id == xero_payment["PaymentID"] and len(puts) == 1


def test_a_crash_after_the_put_and_before_the_commit_makes_exactly_one(
    xero, xero_sandbox, paying, enqueued, monkeypatch, django_capture_on_commit_callbacks
):
    from tests.payments.posting_faults import CrashAfterPost

    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "25.00")])
    real_poster = posting.poster
    monkeypatch.setattr(posting, "poster", lambda: CrashAfterPost(real_poster()))
    with pytest.raises(SystemExit):
        posting.posting_run(posting_id=enqueued[0])
    row = PaymentPosting.objects.get(payment=payment)
    assert row.status == PostingStatus.PENDING and row.external_id == ""
    assert len(created(xero_sandbox)) == 1

    monkeypatch.setattr(posting, "poster", real_poster)
    # A killed worker's lease is not released: it expires, then the sweep resends the row.
    PaymentPosting.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timezone.timedelta(seconds=1))
    enqueued.clear()
    assert sweep(django_capture_on_commit_callbacks)["enqueued"] == 1
    assert run(enqueued) == ["posted"]
    [xero_payment] = created(xero_sandbox)
    row.refresh_from_db()
    assert row.external_id == xero_payment["PaymentID"] and row.idempotency_key.endswith("-g1")


def test_two_workers_never_post_the_same_row_at_once(xero, xero_sandbox, paying, enqueued):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    paying([(invoice.invoice_number, "15.00")])
    posting._take_lease(enqueued[0])  # another worker holds it
    assert run(enqueued) == ["busy"]
    assert created(xero_sandbox) == []


@pytest.fixture
def xero_not_connected_yet(stripe_integration, xero_integration, xero_sandbox, admin_user):
    """Xero saved and granted, never tested: nothing counts as connected, so postings wait."""
    from tests.providers.xero.conftest import grant_directly

    grant_directly(xero_integration, xero_sandbox, admin_user)
    Integration.objects.filter(pk=xero_integration.pk).update(last_test_passed=None)
    return xero_integration


def test_without_xero_the_posting_waits_and_is_posted_once_connected(
    xero_not_connected_yet, xero_sandbox, paying, enqueued, django_capture_on_commit_callbacks
):
    xero_integration = xero_not_connected_yet
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "30.00")])
    assert run(enqueued) == ["pending"]
    row = PaymentPosting.objects.get(payment=payment)
    assert row.status == PostingStatus.PENDING and "No accounting package" in row.last_error and row.attempts == 0
    assert created(xero_sandbox) == []

    Integration.objects.filter(pk=xero_integration.pk).update(last_test_passed=True)
    enqueued.clear()
    sweep(django_capture_on_commit_callbacks)
    assert run(enqueued) == ["posted"]
    assert len(created(xero_sandbox)) == 1


def test_a_refused_posting_shows_on_posting_errors_retry_posts_it_once_dismiss_hides_it(
    xero,
    xero_sandbox,
    paying,
    enqueued,
    client,
    admin_user,
):
    first, second = xero_open_invoices(xero_sandbox)
    xero_sandbox.control.mutate("invoice.update", invoice=first.invoice_id, Status="VOIDED")
    xero_sandbox.control.mutate("invoice.update", invoice=second.invoice_id, Status="VOIDED")
    payment = paying([(first.invoice_number, "20.00"), (second.invoice_number, "10.00")])
    assert run(enqueued) == ["refused", "refused"]
    rows = {r.allocation.invoice.number: r for r in PaymentPosting.objects.filter(payment=payment)}
    refused = rows[first.invoice_number]
    assert refused.messages and refused.last_error

    client.force_login(admin_user)
    page = client.get("/payments/postings/")
    assert page.status_code == 200
    assert first.invoice_number in page.content.decode() and refused.messages[0] in page.content.decode()
    detail = client.get(f"/payments/{payment.pk}/")
    assert "Refused" in detail.content.decode()

    # Fixed in Xero, then Retry: a new generation, posted once.
    xero_sandbox.control.mutate("invoice.update", invoice=first.invoice_id, Status="AUTHORISED")
    enqueued.clear()
    answer = client.post(f"/payments/postings/{refused.pk}/retry/")
    assert answer.status_code == 302
    refused.refresh_from_db()
    assert refused.generation == 2 and refused.idempotency_key.endswith("-g2")
    assert run([refused.pk]) == ["posted"]
    assert [p["InvoiceNumber"] for p in created(xero_sandbox)] == [first.invoice_number]

    other = rows[second.invoice_number]
    assert client.post(f"/payments/postings/{other.pk}/dismiss/", {"note": ""}).status_code == 400
    assert client.post(f"/payments/postings/{other.pk}/dismiss/", {"note": "Entered by hand"}).status_code == 302
    other.refresh_from_db()
    assert other.status == PostingStatus.DISMISSED and other.note == "Entered by hand"
    page = client.get("/payments/postings/").content.decode()
    assert f'data-posting="{other.pk}"' not in page
    assert AuditEvent.objects.filter(action="payment.posting_dismissed").count() == 1
    assert AuditEvent.objects.filter(action="payment.posting_retried").count() == 1


def test_a_client_cannot_open_posting_errors(client, organization):
    assert client.get("/payments/postings/").status_code in (302, 403)


def test_a_full_refund_reverses_the_posted_payment(
    xero,
    xero_sandbox,
    paying,
    enqueued,
    admin_user,
    django_capture_on_commit_callbacks,
):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    run(enqueued)
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.refund_create(
            payment_id=payment.pk, amount=payment.total, reason="Cancelled", actor=admin_user, request_token="r1"
        )
    assert run(enqueued) == ["reversed"]
    assert created(xero_sandbox) == []
    assert [p["Status"] for p in xero_sandbox.control.payments()] == ["DELETED"]


def refund(payment, amount: str, admin_user, capture, token: str):
    with capture(execute=True):
        services.refund_create(
            payment_id=payment.pk, amount=Decimal(amount), reason="Overbilled", actor=admin_user, request_token=token
        )
    payment.refresh_from_db()
    return payment


def xero_payments_of(sandbox, invoice_number: str) -> list[tuple[str, Decimal, str]]:
    return [
        (p["Reference"], Decimal(str(p["Amount"])), p["Status"])
        for p in sandbox.control.payments()
        if p["InvoiceNumber"] == invoice_number
    ]


def xero_invoice_now(invoice_id: str):
    from integrations.registry import installation_of

    installation = installation_of(Integration.objects.get(provider_key="xero"))
    with installation.client() as client:
        return client.get_invoice(invoice_id)


def test_a_partial_refund_reverses_the_xero_payment_and_posts_the_amount_kept(
    xero, xero_sandbox, paying, enqueued, admin_user, django_capture_on_commit_callbacks
):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    run(enqueued)
    row = PaymentPosting.objects.get(payment=payment)
    first_id = row.external_id
    enqueued.clear()

    payment = refund(payment, "10", admin_user, django_capture_on_commit_callbacks, "r1")
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    assert enqueued == [row.pk]
    assert run(enqueued) == ["posted"]
    row.refresh_from_db()
    assert (row.amount, row.revision, row.superseded_id, row.last_error) == (Decimal("50.00"), 1, "", "")
    assert row.reference == f"portal-allocation-{row.allocation_id}-r1" and row.external_id != first_id
    assert xero_payments_of(xero_sandbox, invoice.invoice_number) == [
        (f"portal-allocation-{row.allocation_id}", Decimal("60.00"), "DELETED"),
        (row.reference, Decimal("50.00"), "AUTHORISED"),
    ]
    assert xero_invoice_now(invoice.invoice_id).amount_due == invoice.amount_due - Decimal("50.00")

    # A second partial refund changes no payment status: the refund itself sends the posting again.
    enqueued.clear()
    payment = refund(payment, "20", admin_user, django_capture_on_commit_callbacks, "r2")
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED and enqueued == [row.pk]
    assert run(enqueued) == ["posted"]
    row.refresh_from_db()
    assert (row.amount, row.revision) == (Decimal("30.00"), 2)
    assert [p for p in xero_payments_of(xero_sandbox, invoice.invoice_number) if p[2] != "DELETED"] == [
        (row.reference, Decimal("30.00"), "AUTHORISED")
    ]
    # The rest refunded: the last one is reversed, nothing is left in Xero.
    enqueued.clear()
    refund(payment, "30", admin_user, django_capture_on_commit_callbacks, "r3")
    assert run(enqueued) == ["reversed"]
    assert created(xero_sandbox) == []
    assert xero_invoice_now(invoice.invoice_id).amount_due == invoice.amount_due
    # Delivered again, and the sweep: nothing more to do.
    assert run(enqueued) == ["reversed"]
    enqueued.clear()
    assert sweep(django_capture_on_commit_callbacks)["enqueued"] == 0


def test_a_refund_of_a_payment_of_two_invoices_shares_the_amount_kept(
    xero, xero_sandbox, paying, enqueued, admin_user, django_capture_on_commit_callbacks
):
    first, second = xero_open_invoices(xero_sandbox)
    payment = paying([(first.invoice_number, "30.00"), (second.invoice_number, "10.00")])
    run(enqueued)
    enqueued.clear()
    refund(payment, "10", admin_user, django_capture_on_commit_callbacks, "r1")  # a quarter of it
    assert sorted(run(enqueued)) == ["posted", "posted"]
    live = sorted(p[1] for p in xero_payments_of(xero_sandbox, first.invoice_number) if p[2] != "DELETED")
    live += sorted(p[1] for p in xero_payments_of(xero_sandbox, second.invoice_number) if p[2] != "DELETED")
    assert live == [Decimal("22.50"), Decimal("7.50")]


def test_a_lost_answer_when_reposting_leaves_exactly_one_xero_payment_for_the_amount_kept(
    xero, xero_sandbox, paying, enqueued, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    run(enqueued)
    enqueued.clear()
    refund(payment, "15", admin_user, django_capture_on_commit_callbacks, "r1")
    original_create, original_reverse = XeroClient.create_payment, XeroClient.reverse_payment
    sent = []

    def lose_answer(original):
        def call(self, *args, **kwargs):
            sent.append(original.__name__)
            xero_sandbox.control.set_faults(lost_answer_rate=1.0, paths=[PAYMENTS_PATH])
            try:
                return original(self, *args, **kwargs)
            finally:
                xero_sandbox.control.clear_faults()

        return call

    # Both the reversal's answer and the new payment's answer are lost once each.
    monkeypatch.setattr(XeroClient, "reverse_payment", lose_answer(original_reverse))
    monkeypatch.setattr(XeroClient, "create_payment", lose_answer(original_create))
    assert run(enqueued) == ["posted"]
    assert sent == ["reverse_payment", "create_payment"]
    row = PaymentPosting.objects.get(payment=payment)
    [live] = created(xero_sandbox)
    assert (live["PaymentID"], live["Reference"], Decimal(str(live["Amount"]))) == (
        row.external_id,
        row.reference,
        Decimal("45.00"),
    )
    assert xero_invoice_now(invoice.invoice_id).amount_due == invoice.amount_due - Decimal("45.00")


def test_a_worker_killed_after_the_reversal_resumes_from_the_committed_intent(
    xero, xero_sandbox, paying, enqueued, admin_user, django_capture_on_commit_callbacks, monkeypatch
):
    from tests.payments.posting_faults import CrashAfterReverse

    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    run(enqueued)
    enqueued.clear()
    refund(payment, "20", admin_user, django_capture_on_commit_callbacks, "r1")
    real_poster = posting.poster
    monkeypatch.setattr(posting, "poster", lambda: CrashAfterReverse(real_poster()))
    with pytest.raises(SystemExit):
        posting.posting_run(posting_id=enqueued[0])
    row = PaymentPosting.objects.get(payment=payment)
    # The intent was committed before Xero was touched: what to reverse, and the amount kept.
    assert row.status == PostingStatus.PENDING and row.superseded_id and row.amount == Decimal("40.00")
    assert created(xero_sandbox) == []

    monkeypatch.setattr(posting, "poster", real_poster)
    PaymentPosting.objects.filter(pk=row.pk).update(lease_until=timezone.now() - timezone.timedelta(seconds=1))
    enqueued.clear()
    assert sweep(django_capture_on_commit_callbacks)["enqueued"] == 1
    assert run(enqueued) == ["posted"]
    row.refresh_from_db()
    [live] = created(xero_sandbox)
    assert live["PaymentID"] == row.external_id and Decimal(str(live["Amount"])) == Decimal("40.00")
    assert row.superseded_id == ""


def test_a_refund_before_the_posting_is_sent_posts_only_the_amount_kept(
    xero_not_connected_yet, xero_sandbox, paying, enqueued, admin_user, django_capture_on_commit_callbacks
):
    xero_integration = xero_not_connected_yet
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    assert run(enqueued) == ["pending"]
    refund(payment, "25", admin_user, django_capture_on_commit_callbacks, "r1")

    Integration.objects.filter(pk=xero_integration.pk).update(last_test_passed=True)
    enqueued.clear()
    sweep(django_capture_on_commit_callbacks)
    assert run(enqueued) == ["posted"]
    row = PaymentPosting.objects.get(payment=payment)
    assert (row.revision, row.amount) == (0, Decimal("35.00"))
    assert xero_payments_of(xero_sandbox, invoice.invoice_number) == [(row.reference, Decimal("35.00"), "AUTHORISED")]


def test_a_refused_reversal_shows_on_posting_errors_and_retry_finishes_the_repost(
    xero, xero_sandbox, paying, enqueued, admin_user, client, django_capture_on_commit_callbacks, monkeypatch
):
    from integrations.capabilities import PostingRefused

    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "60.00")])
    run(enqueued)
    enqueued.clear()
    refund(payment, "10", admin_user, django_capture_on_commit_callbacks, "r1")

    def refuse(self, **kwargs):
        raise PostingRefused("Xero refused to reverse the payment: it is reconciled", messages=("It is reconciled",))

    with monkeypatch.context() as patched:
        patched.setattr(XeroInstallation, "reverse_payment", refuse)
        assert run(enqueued) == ["refused"]
    row = PaymentPosting.objects.get(payment=payment)
    assert "reversing" in row.last_error and row.superseded_id and row.messages == ["It is reconciled"]
    assert [p[2] for p in xero_payments_of(xero_sandbox, invoice.invoice_number)] == ["AUTHORISED"]
    client.force_login(admin_user)
    assert "It is reconciled" in client.get("/payments/postings/").content.decode()

    # Unreconciled in Xero, then Retry: reversed, and the amount kept posted, once.
    enqueued.clear()
    assert client.post(f"/payments/postings/{row.pk}/retry/").status_code == 302
    assert run([row.pk]) == ["posted"]
    assert [(p[1], p[2]) for p in xero_payments_of(xero_sandbox, invoice.invoice_number)] == [
        (Decimal("60.00"), "DELETED"),
        (Decimal("50.00"), "AUTHORISED"),
    ]


def test_transient_failures_retry_with_backoff_then_wait_for_the_sweep(
    xero, xero_sandbox, paying, enqueued, django_capture_on_commit_callbacks
):
    [invoice] = xero_open_invoices(xero_sandbox, 1)
    payment = paying([(invoice.invoice_number, "45.00")])
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=503, paths=[PAYMENTS_PATH])
    assert run(enqueued) == ["pending"]  # the task's retries (capped) are spent
    row = PaymentPosting.objects.get(payment=payment)
    assert row.status == PostingStatus.PENDING and row.attempts == 1 + len(post_payment_task_delays())
    assert "could not be reached" in row.last_error and created(xero_sandbox) == []

    xero_sandbox.control.clear_faults()
    enqueued.clear()
    assert sweep(django_capture_on_commit_callbacks)["enqueued"] == 1
    assert run(enqueued) == ["posted"] and len(created(xero_sandbox)) == 1


def post_payment_task_delays():
    from payments.tasks import POSTING_RETRY_DELAYS

    return POSTING_RETRY_DELAYS


def test_the_loop_back_bms_imports_the_posted_payment_and_the_next_sync_shows_it_paid_and_reconciled(
    xero,
    xero_sandbox,
    bms_sandbox,
    bms_integration,
    stripe_integration,
    localstripe,
    enqueued,
    django_capture_on_commit_callbacks,
    client,
    admin_user,
):
    """portal → Xero → BMS → portal: the BMS sandbox (BMS's own Xero integration) imports the posted
    payment, and the next BMS sync shows the invoice paid and the payment Reconciled."""
    from billing.models import Invoice
    from tests.integrations.sync.helpers import run_sync

    assert run_sync(bms_integration).status == "succeeded"
    due = {i.invoice_number: i.amount_due for i in xero_open_invoices(xero_sandbox, 30)}
    invoice = next(
        i
        for i in Invoice.objects.filter(number__in=list(due), balance_due__gt=0).order_by("pk")
        if i.balance_due == due[i.number]
    )
    method = save_card(localstripe, invoice.organization)
    payment = services.payment_create(
        organization=invoice.organization,
        amounts=[InvoiceAmount(invoice.pk, invoice.balance_due)],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt="loop",
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_charge(payment_id=payment.pk)
    assert run(enqueued) == ["posted"]

    result = bms_sandbox.control.xero_import(xero_sandbox.url)
    assert [p["PaymentID"] for p in result["imported"]] == [PaymentPosting.objects.get(payment=payment).external_id]
    assert payment_is_reconciled(payment) is False
    assert run_sync(bms_integration).status == "succeeded"
    invoice.refresh_from_db()
    assert invoice.balance_due == 0
    assert selectors.invoice_payment_state(invoice).unreflected == 0  # BMS reflects the portal's payment
    # The sync's end reconciled it: the payment is Reconciled, and its page says so.
    payment.refresh_from_db()
    assert payment_is_reconciled(payment)
    assert not unreconciled_payments(older_than_days=0).filter(pk=payment.pk).exists()
    client.force_login(admin_user)
    page = client.get(f"/payments/{payment.pk}/").content.decode()
    assert "Reconciled" in page and "Not yet" not in page


@pytest.mark.parametrize(
    ("allocated", "surcharge", "refunded", "kept"),
    [
        (["60.00", "40.00"], "3.00", "51.50", ["30.00", "20.00"]),  # half of the charge: half of each invoice
        (["33.33", "33.33", "33.34"], "0", "10.00", ["30.00", "30.00", "30.00"]),  # cents to the largest remainders
        (["60.00"], "0", "0", ["60.00"]),
        (["60.00", "40.00"], "3.00", "103.00", ["0", "0"]),
    ],
)
def test_each_invoice_keeps_its_share_of_what_was_not_refunded(organization, allocated, surcharge, refunded, kept):
    from payments.models import Payment, PaymentAllocation, PaymentMethod

    method = PaymentMethod.objects.create(
        organization=organization, processor="stripe", processor_customer_id="cus_1", processor_method_id="pm_1"
    )
    payment = Payment.objects.create(
        organization=organization,
        method=method,
        amount=sum(Decimal(a) for a in allocated),
        surcharge=Decimal(surcharge),
        refunded_amount=Decimal(refunded),
        currency="USD",
        status=PaymentStatus.PARTIALLY_REFUNDED,
        processor="stripe",
        idempotency_key="shares",
        initiated_by=Initiator.CLIENT,
    )
    allocations = [
        PaymentAllocation.objects.create(
            payment=payment, invoice=make_invoice(organization, a), amount=Decimal(a), balance_before=Decimal(a)
        )
        for a in allocated
    ]
    shares = posting.kept_amounts(payment)
    assert [shares[a.pk] for a in allocations] == [Decimal(k) for k in kept]
