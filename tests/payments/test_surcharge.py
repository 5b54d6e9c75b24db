"""The card surcharge shown before paying (request level, against localstripe, whose cards are
all credit cards): its own line for a credit card, none for debit cards; a new card's funding is
known only once Stripe has it, so a surcharge the client was not shown stops the payment at a
confirm step that shows it (nothing recorded). What is charged is what was shown, and the
receipt, the status panel and the staff page show the line."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from payments import services
from payments.models import Payment, PaymentMethod, PaymentStatus

from .conftest import browser_confirm_setup, make_invoice, save_card, succeeded_charges
from .test_views import attempt_of, contact, web  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def surcharge(settings):
    settings.PAYMENTS_CARD_SURCHARGE_PERCENT = Decimal("2.5")
    settings.PAYMENTS_CARD_SURCHARGE_CAP = Decimal("10.00")


def pay_form(page: str, invoice, amount: str, method, **extra) -> dict:
    return {
        "attempt": attempt_of(page),
        "invoice": [invoice.pk],
        f"amount-{invoice.pk}": amount,
        "method": method,
        **extra,
    }


def test_a_credit_card_pays_the_surcharge_it_was_shown(
    web,  # noqa: F811
    billing_client,
    stripe_integration,
    localstripe,
    organization,
    surcharge,
):
    invoice = make_invoice(organization, "100.00", number="INV-S1")
    method = save_card(localstripe, organization)
    assert method.funding == "credit"
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert re.search(rf'value="{method.pk}" id="method-{method.pk}" data-surcharged', page)
    assert 'data-surcharge-percent="2.5" data-surcharge-cap="10.00"' in page
    assert "Card surcharge (2.5%)" in page

    answer = web.post("/portal/pay/", pay_form(page, invoice, "100.00", method.pk, surcharge_shown="2.50"))
    assert answer.status_code == 302
    payment = Payment.objects.get()
    assert (payment.amount, payment.surcharge, payment.surcharge_percent, payment.total) == (
        Decimal("100"),
        Decimal("2.5"),
        Decimal("2.5"),
        Decimal("102.5"),
    )
    assert services.payment_charge(payment_id=payment.pk).status == PaymentStatus.SUCCEEDED
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [10250]

    for page in (
        web.get(f"/portal/payments/{payment.pk}/status/"),
        web.get(f"/portal/payments/{payment.pk}/receipt/"),
        billing_client.get(f"/payments/{payment.pk}/"),
    ):
        text = re.sub(r"\s+", " ", page.content.decode())
        assert "Card surcharge (2.5%)" in text and 'data-testid="surcharge-line"' in text
        assert "2.50" in text and "102.50" in text


def test_a_surcharge_not_shown_is_not_charged_the_page_shows_it_first(
    web,  # noqa: F811
    stripe_integration,
    localstripe,
    organization,
    surcharge,
):
    invoice = make_invoice(organization, "1000.00", number="INV-S2")
    method = save_card(localstripe, organization)
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    form = pay_form(page, invoice, "1000.00", method.pk)  # no surcharge shown (no script ran)
    confirm = web.post("/portal/pay/", form)
    text = confirm.content.decode()
    assert confirm.status_code == 200 and 'data-testid="pay-notice"' in text
    assert "A card surcharge of 10.00 USD applies to this credit card: the total is 1,010.00 USD" in text  # capped
    assert Payment.objects.count() == 0
    assert attempt_of(text) == form["attempt"]  # the same attempt: a double submit stays one payment

    assert web.post("/portal/pay/", {**form, "surcharge_shown": "10.00"}).status_code == 302
    assert Payment.objects.get().total == Decimal("1010.00")


def test_a_debit_card_carries_no_surcharge(web, stripe_integration, localstripe, organization, surcharge):  # noqa: F811
    invoice = make_invoice(organization, "80.00")
    method = save_card(localstripe, organization)
    PaymentMethod.objects.filter(pk=method.pk).update(funding="debit")  # localstripe's cards are all credit
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert not re.search(rf'id="method-{method.pk}" data-surcharged', page)
    # A page that showed a surcharge (stale) is not charged one silently either.
    stale = web.post("/portal/pay/", pay_form(page, invoice, "80.00", method.pk, surcharge_shown="2.00"))
    assert stale.status_code == 200 and "No card surcharge applies to this payment method" in stale.content.decode()
    assert Payment.objects.count() == 0
    assert (
        web.post("/portal/pay/", pay_form(page, invoice, "80.00", method.pk, surcharge_shown="0.00")).status_code == 302
    )
    payment = Payment.objects.get()
    assert (payment.surcharge, payment.total) == (Decimal("0"), Decimal("80.00"))


def test_a_new_credit_card_is_confirmed_with_its_surcharge_before_paying(
    web,  # noqa: F811
    stripe_integration,
    localstripe,
    organization,
    surcharge,
):
    invoice = make_invoice(organization, "40.00", number="INV-S3")
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert 'value="new" id="method-new" data-surcharge-unknown' in page
    assert "on credit cards only: if your card is one, the amount is shown before anything is charged" in page
    setup = web.post("/portal/payment-methods/setup/").json()
    browser_confirm_setup(localstripe, setup["id"], "pm_card_visa")  # Stripe.js confirmCardSetup
    form = pay_form(page, invoice, "40.00", "new", setup_id=setup["id"], save_card="on", surcharge_shown="0.00")

    confirm = web.post("/portal/pay/", form)
    text = confirm.content.decode()
    assert confirm.status_code == 200 and Payment.objects.count() == 0
    assert "A card surcharge of 1.00 USD applies to this credit card: the total is 41.00 USD" in text
    # The card entered is offered again, confirmed: not entered twice, no card form.
    assert "Visa ···· 4242" in text and "entered just now" in text and 'data-confirmed="1"' in text
    assert f'name="setup_id" value="{setup["id"]}"' in text and 'id="card-element"' not in text
    assert re.search(r'value="new" id="method-new" data-surcharged', text)

    assert web.post("/portal/pay/", {**form, "surcharge_shown": "1.00"}).status_code == 302
    payment = Payment.objects.get()
    assert (payment.surcharge, payment.total, payment.method.is_saved) == (Decimal("1.00"), Decimal("41.00"), True)
    assert PaymentMethod.objects.count() == 1


def test_no_surcharge_line_when_the_surcharge_is_off(web, stripe_integration, localstripe, organization):  # noqa: F811
    invoice = make_invoice(organization, "25.00")
    method = save_card(localstripe, organization)
    page = web.get(f"/portal/pay/?invoice={invoice.pk}").content.decode()
    assert "data-surcharged" not in page and 'data-testid="surcharge-note"' not in page
    assert (
        web.post("/portal/pay/", pay_form(page, invoice, "25.00", method.pk, surcharge_shown="0.00")).status_code == 302
    )
    assert Payment.objects.get().surcharge == Decimal("0")
