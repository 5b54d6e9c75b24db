"""Posting portal payments to Xero (the PaymentPoster capability) against the sandbox: exactly one Xero
payment per posting whatever the network does, Xero's refusals as PostingRefused with Xero's words,
and reversals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from integrations.base import Capability, Category
from integrations.capabilities import PaymentPosting, PostingRefused
from integrations.registry import installation_offering
from providers.xero.client import XeroClient
from providers.xero.exceptions import XeroUnavailable
from providers.xero.installation import XeroInstallation
from tests.providers.xero.conftest import FakeClock

pytestmark = pytest.mark.django_db

PAYMENTS_PATH = "/api.xro/2.0/Payments"


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    """Waits pass on a fake clock (the budget's and the installation's), instantly."""
    fake = FakeClock()
    monkeypatch.setattr(XeroInstallation, "sleep", staticmethod(fake.sleep))
    monkeypatch.setattr(XeroInstallation, "clock", staticmethod(fake.clock))
    return fake.slept


def _open_invoice(installation, *, skip: int = 0):
    with installation.client() as client:
        page = client.list_invoices(1, statuses=["AUTHORISED"], page_size=20)
    invoices = [i for i in page.items if i.amount_due and i.amount_due >= Decimal("10")]
    return invoices[skip]


def _posting(invoice, reference="pay_1:1", amount=Decimal("10.00"), **kw) -> PaymentPosting:
    return PaymentPosting(
        reference=reference,
        invoice_number=invoice.invoice_number,
        amount=amount,
        currency=kw.pop("currency", "USD"),
        paid_on=kw.pop("paid_on", date(2026, 1, 15)),
    )


def _created(sandbox, reference=None) -> list[dict]:
    return [p for p in sandbox.control.payments() if reference is None or p["Reference"] == reference]


def _lose_the_answer_of_the_next_put(monkeypatch, sandbox, fault="lost_answer_rate"):
    """The next PUT /Payments reaches Xero (applied, or with ``drop_rate`` not) and its answer never
    comes back; later requests are answered normally."""
    original = XeroClient.create_payment
    calls = []

    def create_payment(self, draft, **kwargs):
        calls.append(kwargs.get("idempotency_key"))
        if len(calls) == 1:
            sandbox.control.set_faults(**{fault: 1.0}, paths=[PAYMENTS_PATH])
        try:
            return original(self, draft, **kwargs)
        finally:
            sandbox.control.clear_faults()

    monkeypatch.setattr(XeroClient, "create_payment", create_payment)
    return calls


def test_the_accounting_installation_offers_payment_posting(xero_installation):
    offered = installation_offering(Capability.POST_PAYMENTS, category=Category.ACCOUNTING)
    assert offered is not None and offered.name == "Xero"


def test_a_payment_is_posted_to_the_configured_account_with_its_reference(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    posted = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    assert posted.created
    [payment] = _created(xero_sandbox)
    assert payment["PaymentID"] == posted.external_id
    assert (payment["Reference"], payment["InvoiceNumber"], payment["AccountCode"]) == (
        "pay_1:1",
        invoice.invoice_number,
        "615",
    )
    assert Decimal(str(payment["Amount"])) == Decimal("10.00") and payment["Date"].startswith("2026-01-15")
    with xero_installation.client() as client:
        after = client.get_invoice(invoice.invoice_id)
    assert after.amount_due == invoice.amount_due - Decimal("10.00")


def test_posting_again_finds_the_first_payment(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    first = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    again = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1-retry")
    assert (again.external_id, again.created) == (first.external_id, False)
    assert len(_created(xero_sandbox)) == 1


def test_a_lost_answer_makes_exactly_one_payment(xero_installation, xero_sandbox, monkeypatch):
    """Xero applied the payment and the answer was lost: the portal looks the reference up before it
    creates again, and finds it."""
    invoice = _open_invoice(xero_installation)
    calls = _lose_the_answer_of_the_next_put(monkeypatch, xero_sandbox)
    posted = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    assert len(calls) == 1  # found by its reference: no second PUT
    [payment] = _created(xero_sandbox)
    assert posted.external_id == payment["PaymentID"] and not posted.created
    statuses = [r["status"] for r in xero_sandbox.control.requests()["recent"] if r["path"] == PAYMENTS_PATH]
    assert "lost" in statuses


def test_a_dropped_request_is_sent_again_with_the_same_idempotency_key(xero_installation, xero_sandbox, monkeypatch):
    invoice = _open_invoice(xero_installation)
    calls = _lose_the_answer_of_the_next_put(monkeypatch, xero_sandbox, fault="drop_rate")
    posted = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    assert calls == ["post:pay_1:1", "post:pay_1:1"] and posted.created
    assert len(_created(xero_sandbox)) == 1


def test_an_outcome_still_unknown_after_the_attempts_is_transient(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    xero_sandbox.control.set_faults(error_rate=1.0, error_status=503, paths=[PAYMENTS_PATH])
    with pytest.raises(XeroUnavailable) as caught:
        xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    assert caught.value.transient  # the orchestration posts again later; nothing was created
    assert _created(xero_sandbox) == []


def test_a_429_on_the_put_is_waited_out(xero_installation, xero_sandbox, monkeypatch, _no_waiting):
    invoice = _open_invoice(xero_installation)
    original = XeroClient.create_payment
    calls = []

    def create_payment(self, draft, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            xero_sandbox.control.set_faults(rate_limit_rate=1.0, retry_after=3, paths=[PAYMENTS_PATH])
        try:
            return original(self, draft, **kwargs)
        finally:
            xero_sandbox.control.clear_faults()

    monkeypatch.setattr(XeroClient, "create_payment", create_payment)
    posted = xero_installation.post_payment(_posting(invoice), idempotency_key="post:pay_1:1")
    assert posted.created and len(calls) == 2 and 3.0 in _no_waiting
    assert len(_created(xero_sandbox)) == 1


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("over-payment", "Payment amount exceeds the amount outstanding on this document"),
        ("voided", "Payments can only be made against Authorised documents"),
        ("paid", "Payments can only be made against Authorised documents"),
    ],
)
def test_xeros_refusal_is_raised_with_its_words(xero_installation, xero_sandbox, case, message):
    invoice = _open_invoice(xero_installation)
    amount = Decimal("10.00")
    if case == "over-payment":
        amount = invoice.amount_due + Decimal("0.01")
    elif case == "voided":
        xero_sandbox.control.mutate("invoice.update", invoice=invoice.invoice_id, Status="VOIDED")
    else:
        xero_sandbox.control.mutate("payment.create", invoice=invoice.invoice_id, amount=float(invoice.amount_due))
    with pytest.raises(PostingRefused) as caught:
        xero_installation.post_payment(_posting(invoice, amount=amount), idempotency_key=f"post:{case}")
    assert message in caught.value.messages
    assert message in str(caught.value) and invoice.invoice_number in str(caught.value)
    assert not caught.value.transient
    assert _created(xero_sandbox, "pay_1:1") == []


def test_an_invoice_xero_does_not_have_is_refused(xero_installation):
    invoice = _open_invoice(xero_installation)
    posting = PaymentPosting("pay_1:1", "INV-NOPE", Decimal("1.00"), "USD", date(2026, 1, 15))
    with pytest.raises(PostingRefused, match="Xero has no sales invoice INV-NOPE"):
        xero_installation.post_payment(posting, idempotency_key="k")
    assert invoice  # the tenant has open invoices; this one is simply not there


def test_another_currency_is_refused(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    with pytest.raises(PostingRefused, match="in USD in Xero, the payment in EUR"):
        xero_installation.post_payment(_posting(invoice, currency="EUR"), idempotency_key="k")


def test_the_same_reference_with_another_amount_is_flagged(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    xero_installation.post_payment(_posting(invoice), idempotency_key="k1")
    with pytest.raises(PostingRefused, match="already has a payment with the reference pay_1:1"):
        xero_installation.post_payment(_posting(invoice, amount=Decimal("11.00")), idempotency_key="k2")
    assert len(_created(xero_sandbox)) == 1


def test_the_same_reference_on_two_invoices_makes_two_payments(xero_installation, xero_sandbox):
    first, second = _open_invoice(xero_installation), _open_invoice(xero_installation, skip=1)
    a = xero_installation.post_payment(_posting(first, reference="pay_7"), idempotency_key="pay_7:a")
    b = xero_installation.post_payment(_posting(second, reference="pay_7"), idempotency_key="pay_7:b")
    assert a.external_id != b.external_id and len(_created(xero_sandbox, "pay_7")) == 2


def test_a_reversal_deletes_the_payment_once(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    posted = xero_installation.post_payment(_posting(invoice), idempotency_key="k1")
    xero_installation.reverse_payment(external_id=posted.external_id, idempotency_key="rev:k1")
    assert _created(xero_sandbox)[0]["Status"] == "DELETED"
    xero_installation.reverse_payment(external_id=posted.external_id, idempotency_key="rev:k1:again")
    with xero_installation.client() as client:
        assert client.get_invoice(invoice.invoice_id).amount_due == invoice.amount_due
    # A reversed payment is not "already posted": posting again makes a new one.
    again = xero_installation.post_payment(_posting(invoice), idempotency_key="k2")
    assert again.created and again.external_id != posted.external_id


def test_reversing_a_payment_xero_does_not_have_is_refused(xero_installation):
    with pytest.raises(PostingRefused, match="Xero has no payment"):
        xero_installation.reverse_payment(external_id="00000000-0000-4000-8000-000000000000", idempotency_key="r")


def test_bad_postings_never_reach_xero(xero_installation, xero_sandbox):
    invoice = _open_invoice(xero_installation)
    xero_sandbox.control.clear_requests()
    for amount in (Decimal("0"), Decimal("-1.00"), Decimal("1.001")):
        with pytest.raises(ValueError):
            xero_installation.post_payment(_posting(invoice, amount=amount), idempotency_key="k")
    assert xero_sandbox.control.requests()["total"] == 0
