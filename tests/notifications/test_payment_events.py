"""Payments notify for real, each event once: Payment Successful and Payment Failed (charges
through localstripe), Payment Scheduled (autopay), Payment Method Changed and Autopay Changed
(audited changes, a rule paused after failed charges), and the internal daily Autopay Summary;
e-mail and ticket as the type's check boxes say."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from accounts.services import audit_record
from notifications.events import autopay_summary_notify
from notifications.models import Channel, Notification
from notifications.rendering import email_bodies, email_subject
from notifications.tasks import autopay_summary_task
from notifications.types import Audience, NotificationKind, spec_for
from payments import autopay, services
from payments.models import AutopayRule, AutopayTiming, Initiator, PaymentStatus
from payments.signals import payment_changed
from tests.billing.factories import ContactFactory
from tests.notifications.conftest import deliver_all, set_preferences
from tests.payments.conftest import (  # noqa: F401 (fixtures)
    localstripe,
    localstripe_server,
    make_invoice,
    make_organization,
    save_card,
    stripe_integration,
)
from tests.payments.test_autopay import TODAY, invoice_dated, rule_for

pytestmark = pytest.mark.django_db

K = NotificationKind


@pytest.fixture
def billed(db):
    """An organization whose billing contact receives invoices (and so payment e-mails)."""
    organization = make_organization("Globex Corporation")
    ContactFactory(
        organization=organization, source=organization.source, email="ap@globex.example", receives_invoices=True
    )
    return organization


def pay(organization, invoice, method, attempt: str):
    payment = services.payment_create(
        organization=organization,
        amounts=[services.InvoiceAmount(invoice.pk, invoice.balance_due)],
        method=method,
        initiated_by=Initiator.CLIENT,
        actor=None,
        attempt=attempt,
    )
    return services.payment_charge(payment_id=payment.pk)


def of_kind(kind) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind))


def test_a_payment_that_succeeds_notifies_once_by_email_not_ticket(
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    billed,
    django_capture_on_commit_callbacks,
):
    set_preferences(email=True, ticket=False)
    invoice = make_invoice(billed, "125.00", number="INV-77")
    method = save_card(localstripe, billed)
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(billed, invoice, method, "ok")
    assert payment.status == PaymentStatus.SUCCEEDED
    [notification] = of_kind(K.PAYMENT_SUCCESSFUL)
    assert notification.organization == billed and notification.invoice == invoice
    assert notification.context["invoice_numbers"] == ["INV-77"] and notification.context["amount"] == "125.000"
    deliveries = deliver_all(notification)
    assert deliveries[Channel.TICKET].status == "skipped"
    assert "turned off" in deliveries[Channel.TICKET].reason
    [message] = mail.outbox
    assert message.to == ["ap@globex.example"]
    assert message.subject == "Payment received: $125.00"
    assert "we received your payment of $125.00" in message.body

    # The signal again (a redelivered webhook, the nightly settle): nothing more.
    with django_capture_on_commit_callbacks(execute=True):
        payment_changed.send(sender=type(payment), payment=payment, previous_status=PaymentStatus.PROCESSING)
        services.payment_refresh(payment_id=payment.pk)
    assert len(of_kind(K.PAYMENT_SUCCESSFUL)) == 1
    assert not of_kind(K.PAYMENT_FAILED)


def test_a_declined_charge_notifies_payment_failed_with_the_reason(
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    billed,
    django_capture_on_commit_callbacks,
):
    set_preferences(email=True, ticket=True)
    invoice = make_invoice(billed, "80.00")
    method = save_card(localstripe, billed, card="4000000000000341")
    with django_capture_on_commit_callbacks(execute=True):
        payment = pay(billed, invoice, method, "declined")
    assert payment.status == PaymentStatus.FAILED
    [notification] = of_kind(K.PAYMENT_FAILED)
    assert not of_kind(K.PAYMENT_SUCCESSFUL)
    assert notification.context["reason"] == payment.failure_reason != ""
    # Both boxes ticked: an e-mail and a ticket are queued (the ticket waits for a BMS connection).
    assert {d.channel for d in notification.deliveries.exclude(status="skipped")} >= {Channel.EMAIL}
    assert "Turned off" not in " ".join(d.reason for d in notification.deliveries.all())
    text, _html = email_bodies(notification)
    assert payment.failure_reason in text and "could not be processed" in text


def test_payment_method_changes_notify_once_per_change(
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    billed,
    django_capture_on_commit_callbacks,
    client_user,
):
    set_preferences(email=True, ticket=False)
    with django_capture_on_commit_callbacks(execute=True):
        first = save_card(localstripe, billed, actor=client_user)
        second = save_card(localstripe, billed, card="5555555555554444", actor=client_user)
        services.method_set_default(method=second, actor=client_user)
        services.method_remove(method=first, actor=client_user)
        save_card(localstripe, billed, save=False)  # used for one payment only: not a change on file
    notifications = Notification.objects.filter(kind=K.PAYMENT_METHOD_CHANGED).order_by("pk")
    reasons = [n.context["reason"] for n in notifications]
    assert len(reasons) == 4, reasons
    assert reasons[0].startswith("Added Visa ···· 4242 by client@example.com")
    assert reasons[2].startswith("Made ") and "···· 4444 the default" in reasons[2]
    assert reasons[3].startswith("Removed Visa ···· 4242")
    assert {n.organization for n in notifications} == {billed}


def test_audited_autopay_rule_changes_notify_autopay_changed(billed, admin_user, django_capture_on_commit_callbacks):
    set_preferences(email=True, ticket=False)
    with django_capture_on_commit_callbacks(execute=True):
        audit_record(
            actor=admin_user,
            action="autopay.rule_locked",
            target=billed.name,
            summary="Locked the autopay rule paying with Visa ···· 4242",
            rule_id=999,
            organization_id=billed.pk,
        )
        audit_record(actor=admin_user, action="autopay.approve", target=billed.name, summary="Approved")  # a decision
        audit_record(actor=admin_user, action="integration.saved", target="Stripe", summary="Keys changed")
    [notification] = of_kind(K.AUTOPAY_CHANGED)
    assert notification.organization == billed
    assert notification.context["reason"] == "Locked the autopay rule paying with Visa ···· 4242 by admin@example.com."
    assert Notification.objects.count() == 1


def test_autopay_scheduling_notifies_payment_scheduled_once_per_charge(
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    billed,
    django_capture_on_commit_callbacks,
):
    set_preferences(email=True, ticket=False)
    method = save_card(localstripe, billed)
    rule_for(billed, method, timing=AutopayTiming.DAYS_BEFORE_DUE, days=5, requires_approval=True)
    invoice = invoice_dated(billed, "10.00", TODAY - timedelta(days=25))
    with django_capture_on_commit_callbacks(execute=True):
        autopay.autopay_evaluate(today=TODAY)
        autopay.autopay_evaluate(today=TODAY)
    [notification] = of_kind(K.PAYMENT_SCHEDULED)
    assert notification.invoice == invoice
    assert notification.context["reason"].startswith(f"Autopay charges it on {TODAY:%Y-%m-%d} once approved")
    assert email_subject(notification) == "Payment scheduled: $10.00"


def test_the_daily_autopay_summary_is_internal_once_a_day_and_tells_clients_of_paused_rules(
    stripe_integration,  # noqa: F811
    localstripe,  # noqa: F811
    billed,
    django_capture_on_commit_callbacks,
):
    set_preferences(email=True, ticket=False)
    assert autopay_summary_notify() is None  # no organization has autopay: nothing to say
    method = save_card(localstripe, billed)
    rule = rule_for(billed, method)
    invoice = make_invoice(billed, "30.00")
    payment = services.payment_create(
        organization=billed,
        amounts=[services.InvoiceAmount(invoice.pk, Decimal("30.00"))],
        method=method,
        initiated_by=Initiator.AUTOPAY,
        actor=None,
        attempt="autopay-1",
    )
    services.payment_charge(payment_id=payment.pk)
    AutopayRule.objects.filter(pk=rule.pk).update(
        paused_at=timezone.now(), pause_reason="Paused after 3 failed attempts: Your card was declined."
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert autopay_summary_task() is True
        autopay_summary_notify()  # the beat ran twice
    [summary] = of_kind(K.AUTOPAY_SUMMARY)
    assert summary.organization is None and spec_for(K.AUTOPAY_SUMMARY).audience == Audience.INTERNAL
    assert summary.context["charged_count"] == 1 and summary.context["charged_total"] == "30.000"
    assert summary.context["paused_rules"] == 1
    text, html = email_bodies(summary)
    assert "charged: 1 (30.000)" in text and "Rules paused after failed charges: 1" in html
    assert email_subject(summary) == "Autopay summary"
    [paused] = of_kind(K.AUTOPAY_CHANGED)
    assert paused.organization == billed and "Paused after 3 failed attempts" in paused.context["reason"]

    tomorrow = timezone.now() + timedelta(days=1)
    autopay_summary_notify(now=tomorrow)
    assert len(of_kind(K.AUTOPAY_SUMMARY)) == 2
    assert len(of_kind(K.AUTOPAY_CHANGED)) == 1  # the same pause: told once


def test_the_summary_runs_daily_on_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["notifications-autopay-summary"]
    assert entry["task"] == "notifications.autopay_summary" and entry["schedule"] == timedelta(days=1)
    assert date.today()  # the day is the key: one summary a day however often beat runs it
