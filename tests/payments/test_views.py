"""The payment pages as a browser uses them (request level, against localstripe): the client
pays, follows the payment, manages methods; staff list, inspect and refund. Every page checks
the role, and a client never reaches another organization's payment or method."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent, Role
from payments import services
from payments.models import Initiator, Payment, PaymentMethod, PaymentStatus, Refund
from payments.services import InvoiceAmount
from tests.factories import UserFactory

from .conftest import (
    browser_confirm_setup,
    browser_payment_method,
    make_invoice,
    make_organization,
    save_card,
    succeeded_charges,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(client_user, organization):
    client_user.organization = organization
    client_user.save()
    return client_user


@pytest.fixture
def web(contact) -> Client:
    client = Client()
    client.force_login(contact)
    return client


def attempt_of(page: str) -> str:
    return re.search(r'name="attempt" value="([^"]+)"', page).group(1)


def recorded(organization, invoice, method, amount="10") -> Payment:
    return services.payment_create(
        organization=organization,
        amounts=[InvoiceAmount(invoice.pk, Decimal(amount))],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt=f"a-{invoice.pk}-{amount}",
    )


def test_pay_with_a_saved_card(web, stripe_integration, localstripe, organization, django_capture_on_commit_callbacks):
    invoice = make_invoice(organization, "120.00", number="INV-120")
    method = save_card(localstripe, organization)
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert "INV-120" in page and f'value="{invoice.pk}" id="pay-{invoice.pk}" checked' in page
    assert 'src="' + localstripe.url + '/js.stripe.com/v3/"' in page and "js/payments.js" in page
    form = {"attempt": attempt_of(page), "invoice": [invoice.pk], f"amount-{invoice.pk}": "100.00", "method": method.pk}
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = web.post("/portal/pay/", form)
        again = web.post("/portal/pay/", form)  # the double click
    payment = Payment.objects.get()
    assert answer.status_code == again.status_code == 302 and answer.url == f"/portal/payments/{payment.pk}/"
    assert (payment.amount, payment.initiated_by, payment.status) == (Decimal("100"), "client", PaymentStatus.PENDING)
    assert len(queued) >= 1  # the charge task, after the commit

    status = web.get(answer.url).content.decode()
    assert "Payment processing" in status and 'hx-trigger="every 2s"' in status
    services.payment_charge(payment_id=payment.pk)
    panel = web.get(f"/portal/payments/{payment.pk}/status/").content.decode()
    assert 'data-status="succeeded"' in panel and "Paid" in panel and "hx-trigger" not in panel
    receipt = web.get(f"/portal/payments/{payment.pk}/receipt/").content.decode()
    assert "Payment receipt" in receipt and "INV-120" in receipt and "100.00" in receipt
    history = web.get("/portal/payments/").content.decode()
    assert f'data-payment="{payment.pk}"' in history and "Succeeded" in history


def test_pay_two_invoices_with_a_new_card_not_saved(web, stripe_integration, localstripe, organization):
    first, second = make_invoice(organization, "10.00"), make_invoice(organization, "15.00")
    page = web.get(f"/portal/pay/?invoice={first.pk}&invoice={second.pk}").content.decode()
    setup = web.post("/portal/payment-methods/setup/").json()
    assert setup["client_secret"].startswith(setup["id"])
    browser_confirm_setup(localstripe, setup["id"], "pm_card_visa")  # Stripe.js confirmCardSetup
    answer = web.post(
        "/portal/pay/",
        {
            "attempt": attempt_of(page),
            "invoice": [first.pk, second.pk],
            f"amount-{first.pk}": "10.00",
            f"amount-{second.pk}": "15.00",
            "method": "new",
            "setup_id": setup["id"],
        },
    )
    assert answer.status_code == 302
    payment = Payment.objects.get()
    assert payment.amount == Decimal("25.00") and not payment.method.is_saved
    assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    # Not saved: not offered again, not on the Payment methods page.
    assert "4242" not in web.get("/portal/payment-methods/").content.decode()


def test_over_the_balance_shows_why_and_records_nothing(web, stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "50.00", number="INV-50")
    method = save_card(localstripe, organization)
    page = web.get("/portal/pay/").content.decode()
    answer = web.post(
        "/portal/pay/",
        {"attempt": attempt_of(page), "invoice": [invoice.pk], f"amount-{invoice.pk}": "50.01", "method": method.pk},
    )
    assert answer.status_code == 400
    assert "INV-50: the most you can pay is the balance, $50.00." in answer.content.decode()
    assert Payment.objects.count() == 0
    garbage = web.post(
        "/portal/pay/",
        {"attempt": "x", "invoice": [invoice.pk], f"amount-{invoice.pk}": "lots", "method": method.pk},
    )
    assert garbage.status_code == 400 and "Enter an amount for invoice INV-50" in garbage.content.decode()


def test_a_decline_is_shown_and_nothing_is_paid(web, stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "30.00")
    method = save_card(localstripe, organization, card="4000000000000341")
    payment = services.payment_charge(payment_id=recorded(organization, invoice, method, "30").pk)
    page = web.get(f"/portal/payments/{payment.pk}/").content.decode()
    assert "Your card was declined." in page and "Nothing was charged" in page
    assert f"/portal/pay/?invoice={invoice.pk}" in page  # Try again
    assert web.get(f"/portal/payments/{payment.pk}/receipt/").status_code == 404
    assert succeeded_charges(localstripe) == []


def test_3d_secure_shows_the_confirmation_to_the_client(web, stripe_integration, localstripe, organization):
    invoice = make_invoice(organization, "30.00")
    method = save_card(localstripe, organization, card="4000002500003155")
    payment = services.payment_charge(payment_id=recorded(organization, invoice, method, "30").pk)
    page = web.get(f"/portal/payments/{payment.pk}/").content.decode()
    assert "Your bank asks you to confirm this payment" in page
    assert f'data-client-secret="{payment.processor_intent_id}_secret' in page
    assert web.post(f"/portal/payments/{payment.pk}/authenticated/").status_code == 302


def test_the_invoice_pages_offer_pay_and_show_payments_in_progress(
    web, stripe_integration, localstripe, organization, django_capture_on_commit_callbacks, monkeypatch
):
    monkeypatch.setattr("payments.tasks.charge_payment_task.delay", lambda *args: None)
    invoice = make_invoice(organization, "80.00", number="INV-80")
    paid_off = make_invoice(organization, "0.00", number="INV-0")
    listing = web.get("/portal/invoices/").content.decode()
    assert f'href="/portal/pay/?invoice={invoice.pk}"' in listing
    assert f"/portal/pay/?invoice={paid_off.pk}" not in listing and 'id="pay-selected"' in listing

    method = save_card(localstripe, organization)
    with django_capture_on_commit_callbacks(execute=True):
        recorded(organization, invoice, method, "30")
    listing = web.get("/portal/invoices/").content.decode()  # the cached list was invalidated
    assert "Payment processing" in listing and "50.00" in listing
    detail = web.get(f"/portal/invoices/{invoice.pk}/").content.decode()
    assert "Payment processing" in detail and "<strong>$50.00</strong> left to pay" in detail


def test_payment_methods_add_default_and_remove(web, contact, stripe_integration, localstripe, organization):
    first = save_card(localstripe, organization)
    setup = web.post("/portal/payment-methods/setup/").json()
    browser_confirm_setup(localstripe, setup["id"], browser_payment_method(localstripe, "5555555555554444"))
    assert web.post("/portal/payment-methods/", {"setup_id": setup["id"]}).status_code == 302
    second = PaymentMethod.objects.exclude(pk=first.pk).get()
    assert (second.last4, second.is_default, first.is_default) == ("4444", False, True)
    assert AuditEvent.objects.filter(action="payment_method.added", actor=contact).exists()

    web.post(f"/portal/payment-methods/{second.pk}/default/")
    first.refresh_from_db(), second.refresh_from_db()
    assert second.is_default and not first.is_default

    # Refused with the reason while a payment with it is in progress.
    pending = recorded(organization, make_invoice(organization, "5.00"), second, "5")
    page = web.post(f"/portal/payment-methods/{second.pk}/remove/", follow=True).content.decode()
    assert "cannot be removed: A payment with this method is still in progress." in page
    services.payment_charge(payment_id=pending.pk)
    web.post(f"/portal/payment-methods/{second.pk}/remove/")
    second.refresh_from_db(), first.refresh_from_db()
    assert second.removed_at is not None and first.is_default


def test_a_client_reaches_only_their_own_organization(web, stripe_integration, localstripe, organization):
    other = make_organization("Other Co")
    theirs = services.payment_charge(
        payment_id=recorded(other, make_invoice(other, "10.00"), save_card(localstripe, other)).pk
    )
    their_method = theirs.method
    for url in (
        f"/portal/payments/{theirs.pk}/",
        f"/portal/payments/{theirs.pk}/status/",
        f"/portal/payments/{theirs.pk}/receipt/",
    ):
        assert web.get(url).status_code == 404, url
    assert web.post(f"/portal/payments/{theirs.pk}/authenticated/").status_code == 404
    assert web.post(f"/portal/payment-methods/{their_method.pk}/default/").status_code == 404
    assert web.post(f"/portal/payment-methods/{their_method.pk}/remove/").status_code == 404
    assert 'data-payment="' not in web.get("/portal/payments/").content.decode()
    # Paying their invoice, or with their card, is refused; nothing is recorded.
    their_invoice = make_invoice(other, "20.00")
    page = web.get("/portal/pay/").content.decode()
    answer = web.post(
        "/portal/pay/",
        {"attempt": attempt_of(page) if "attempt" in page else "x", "invoice": [their_invoice.pk],
         f"amount-{their_invoice.pk}": "20", "method": their_method.pk},
    )  # fmt: skip
    assert answer.status_code in (400, 404) and Payment.objects.filter(organization=organization).count() == 0
    # Their setup cannot become our card either.
    setup = services.method_setup_begin(organization=other)
    browser_confirm_setup(localstripe, setup.id, "pm_card_visa")
    assert web.post("/portal/payment-methods/", {"setup_id": setup.id}).status_code == 400
    assert not PaymentMethod.objects.filter(organization=organization).exists()


@pytest.mark.parametrize("role", [Role.MASTER_ADMIN, Role.BILLING_STAFF, None])
def test_client_pages_are_for_client_contacts_only(role, stripe_integration):
    client = Client()
    if role:
        client.force_login(UserFactory(role=role))
    for url in ("/portal/pay/", "/portal/payments/", "/portal/payment-methods/"):
        answer = client.get(url)
        assert answer.status_code == (403 if role else 302), url


def test_staff_pages_and_refund(stripe_integration, localstripe, organization, billing_client, web, admin_user):
    invoice, method = make_invoice(organization, "60.00", "INV-60"), save_card(localstripe, organization)
    payment = services.payment_charge(payment_id=recorded(organization, invoice, method, "60").pk)
    assert web.get("/payments/").status_code == 403
    assert web.get(f"/payments/{payment.pk}/").status_code == 403
    listing = billing_client.get("/payments/?status=succeeded&method=card").content.decode()
    assert f'data-payment="{payment.pk}"' in listing and "INV-60" in listing
    assert f'data-payment="{payment.pk}"' not in billing_client.get("/payments/?status=failed").content.decode()
    detail = billing_client.get(f"/payments/{payment.pk}/").content.decode()
    assert payment.processor_intent_id in detail and "Refund" in detail
    token = re.search(r'name="token" value="([^"]+)"', detail).group(1)

    form = {"amount": "20.00", "reason": "Goodwill", "token": token}
    assert billing_client.post(f"/payments/{payment.pk}/refund/", form).status_code == 302
    assert billing_client.post(f"/payments/{payment.pk}/refund/", form).status_code == 302  # resubmitted
    refund = Refund.objects.get()
    assert (refund.amount, refund.status, refund.reason) == (Decimal("20.00"), "succeeded", "Goodwill")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PARTIALLY_REFUNDED
    too_much = billing_client.post(f"/payments/{payment.pk}/refund/", {**form, "amount": "41", "token": "other"})
    assert too_much.status_code == 400 and "At most $40.00 of this payment" in too_much.content.decode()
    assert web.post(f"/payments/{payment.pk}/refund/", {**form, "token": "t3"}).status_code == 403
    assert Refund.objects.count() == 1
