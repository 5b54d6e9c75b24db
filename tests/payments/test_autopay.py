"""Autopay against localstripe: rules schedule due invoices once per slot, charge them once even
when two evaluations run at once or a client paid first, retry failures and then pause, stop on
a removed/expired method or an ended contract, and wait for approval when asked."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from organizations.models import Contract
from payments import autopay, services
from payments.models import (
    AutopayRule,
    AutopayTiming,
    Initiator,
    Payment,
    PaymentStatus,
    ScheduledCharge,
    ScheduledChargeStatus,
)

from .conftest import make_invoice, make_organization, save_card, succeeded_charges
from .test_concurrency import in_threads

TODAY = date(2026, 6, 15)


def invoice_dated(organization, balance: str, invoice_day: date, due_in: int = 30, **fields):
    invoice = make_invoice(organization, balance, **fields)
    moment = timezone.make_aware(datetime.combine(invoice_day, datetime.min.time()))
    invoice.invoice_date, invoice.due_date = moment, moment + timedelta(days=due_in)
    invoice.save()
    return invoice


def rule_for(organization, method, **fields) -> AutopayRule:
    fields.setdefault("timing", AutopayTiming.DAYS_AFTER_INVOICE)
    fields.setdefault("days", 0)
    return AutopayRule.objects.create(organization=organization, method=method, **fields)


def charge_all():
    for payment in Payment.objects.filter(status=PaymentStatus.PENDING, action_required=False):
        services.payment_charge(payment_id=payment.pk)


@pytest.mark.django_db
def test_due_invoices_are_charged_once(stripe_integration, localstripe, organization):
    method = save_card(localstripe, organization)
    rule_for(organization, method, timing=AutopayTiming.DAYS_BEFORE_DUE, days=5)
    due = invoice_dated(organization, "10.00", TODAY - timedelta(days=25))  # due in 5 days: slot today
    later = invoice_dated(organization, "20.00", TODAY - timedelta(days=20))  # slot in 5 days
    counts = autopay.autopay_evaluate(today=TODAY)
    assert (counts["scheduled"], counts["charged"]) == (1, 1)
    payment = Payment.objects.get()
    assert (payment.initiated_by, payment.amount) == (Initiator.AUTOPAY, Decimal("10.00"))
    assert [a.invoice_id for a in payment.allocations.all()] == [due.pk]
    charge_all()
    assert autopay.autopay_evaluate(today=TODAY)["charged"] == 0  # run again: nothing new
    assert ScheduledCharge.objects.get(invoice=due).status == ScheduledChargeStatus.CHARGED

    autopay.autopay_evaluate(today=TODAY + timedelta(days=5))
    charge_all()
    assert sorted(c["amount"] for c in succeeded_charges(localstripe)) == [1000, 2000]
    assert ScheduledCharge.objects.filter(invoice=later).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_evaluations_at_once_charge_each_invoice_once(stripe_integration, localstripe):
    invoices = []
    for n in range(3):
        organization = make_organization(f"Org {n}")
        rule_for(organization, save_card(localstripe, organization))
        invoices += [invoice_dated(organization, f"{n + 1}.{i:02d}", TODAY) for i in range(10)]
    in_threads(2, lambda i: autopay.autopay_evaluate(today=TODAY))
    in_threads(2, lambda i: autopay.autopay_evaluate(today=TODAY))
    assert ScheduledCharge.objects.count() == 30 and Payment.objects.count() == 30
    in_threads(4, lambda i: charge_all())
    charge_all()
    charges = succeeded_charges(localstripe)
    assert len(charges) == 30
    assert sorted(c["amount"] for c in charges) == sorted(int(i.balance_due * 100) for i in invoices)


@pytest.mark.django_db
def test_a_client_who_paid_first_leaves_autopay_nothing_to_take(stripe_integration, localstripe, organization):
    method = save_card(localstripe, organization)
    rule_for(organization, method)
    invoice = invoice_dated(organization, "40.00", TODAY)
    partly = invoice_dated(organization, "50.00", TODAY)
    for target, amount in ((invoice, "40.00"), (partly, "20.00")):
        services.payment_create(
            organization=organization,
            amounts=[services.InvoiceAmount(target.pk, Decimal(amount))],
            method=method,
            initiated_by=Initiator.CLIENT,
            actor=None,
            attempt=f"client-{target.pk}",
        )
    autopay.autopay_evaluate(today=TODAY)
    charge_all()
    assert not ScheduledCharge.objects.filter(invoice=invoice).exists()  # nothing payable: not scheduled
    autopay_payment = Payment.objects.get(initiated_by=Initiator.AUTOPAY)
    assert autopay_payment.amount == Decimal("30.00")  # only what the client left
    assert sorted(c["amount"] for c in succeeded_charges(localstripe)) == [2000, 3000, 4000]


@pytest.mark.django_db
def test_failed_charges_retry_then_the_rule_pauses(stripe_integration, localstripe, organization, settings):
    settings.PAYMENTS_AUTOPAY_RETRY_DAYS = [1, 3]
    method = save_card(localstripe, organization, card="4000000000000341")
    rule = rule_for(organization, method)
    invoice_dated(organization, "12.00", TODAY)
    day = TODAY
    for attempt, next_gap in ((1, 1), (2, 3), (3, None)):
        autopay.autopay_evaluate(today=day)
        charge_all()
        autopay.autopay_evaluate(today=day)  # follows the failed attempt
        charge = ScheduledCharge.objects.get()
        assert charge.attempts == attempt
        if next_gap:
            assert (charge.status, charge.charge_on) == (
                ScheduledChargeStatus.SCHEDULED,
                day + timedelta(days=next_gap),
            )
            assert "declined" in charge.note
            day = charge.charge_on
    rule.refresh_from_db()
    assert charge.status == ScheduledChargeStatus.FAILED and rule.paused_at and "3 failed attempts" in rule.pause_reason
    assert Payment.objects.filter(status=PaymentStatus.FAILED).count() == 3
    assert succeeded_charges(localstripe) == []


@pytest.mark.django_db
def test_rules_that_cannot_charge_say_why(stripe_integration, localstripe, organization):
    method = save_card(localstripe, organization)
    contract = Contract.objects.create(
        source=organization.source,
        bms_id=1,
        sync_hash="x",
        synced_at=timezone.now(),
        organization=organization,
        name="Managed services",
        end_date=timezone.make_aware(datetime(2026, 5, 31)),
    )
    rule = rule_for(organization, method, contract=contract)
    invoice_dated(organization, "10.00", TODAY)
    autopay.autopay_evaluate(today=TODAY)
    rule.refresh_from_db()
    assert rule.error == "Its contract Managed services ended on 2026-05-31." and Payment.objects.count() == 0

    rule.contract = None
    rule.save()
    method.exp_year, method.exp_month = 2026, 5
    method.save()
    autopay.autopay_evaluate(today=TODAY)
    rule.refresh_from_db()
    assert "has expired" in rule.error and Payment.objects.count() == 0


@pytest.mark.django_db
def test_a_method_an_autopay_rule_uses_cannot_be_removed(stripe_integration, localstripe, organization):
    method = save_card(localstripe, organization)
    rule = rule_for(organization, method)
    with pytest.raises(services.PaymentRefused, match="1 autopay rule pays with it. Move the rule"):
        services.method_remove(method=method, actor=None)
    other = save_card(localstripe, organization)
    rule.method = other
    rule.save()
    services.method_remove(method=method, actor=None)
    method.refresh_from_db()
    assert method.removed_at is not None


@pytest.mark.django_db
def test_charges_that_need_approval_wait_for_it(stripe_integration, localstripe, organization, admin_user):
    rule_for(organization, save_card(localstripe, organization), requires_approval=True)
    first, second = invoice_dated(organization, "5.00", TODAY), invoice_dated(organization, "6.00", TODAY)
    counts = autopay.autopay_evaluate(today=TODAY)
    assert (counts["awaiting_approval"], counts["charged"]) == (2, 0)
    autopay.scheduled_charge_decide(
        charge=ScheduledCharge.objects.get(invoice=first), actor=admin_user, decision="approve"
    )
    autopay.scheduled_charge_decide(
        charge=ScheduledCharge.objects.get(invoice=second), actor=admin_user, decision="skip"
    )
    autopay.autopay_evaluate(today=TODAY)
    charge_all()
    assert [c["amount"] for c in succeeded_charges(localstripe)] == [500]


def test_slots_for_each_timing():
    from billing.models import Invoice

    issued = timezone.make_aware(datetime(2026, 1, 31))
    bill = Invoice(invoice_date=issued, due_date=issued + timedelta(days=30))
    rule = AutopayRule(timing=AutopayTiming.DAYS_BEFORE_DUE, days=3)
    assert autopay.slot_for(rule, bill) == date(2026, 2, 27)
    rule.timing, rule.days = AutopayTiming.DAYS_AFTER_DUE, 2
    assert autopay.slot_for(rule, bill) == date(2026, 3, 4)
    rule.timing, rule.days = AutopayTiming.DAYS_AFTER_INVOICE, 10
    assert autopay.slot_for(rule, bill) == date(2026, 2, 10)
    rule.timing, rule.days = AutopayTiming.DAY_OF_MONTH, 31
    assert autopay.slot_for(rule, bill) == date(2026, 1, 31)
    rule.days = 30  # January 30 has passed: February has no 30th, so its last day
    assert autopay.slot_for(rule, bill) == date(2026, 2, 28)
    rule.max_amount, bill.balance_due = Decimal("100"), Decimal("100.01")
    assert not autopay.rule_matches(rule, bill)
